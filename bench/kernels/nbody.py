"""n-body in plain CPython: the same algorithm as nbody.npl, with lists of
floats where the NPL program uses arrays.

Usage: python3 nbody.py [STEPS]   (default 200000)
"""
import sys
from math import sqrt

DAYS_PER_YEAR = 365.24
SOLAR_MASS = 39.47841760435743

SOLAR_SYSTEM = [
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    [4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
     1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05,
     9.54791938424326609e-04],
    [8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
     -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05,
     2.85885980666130812e-04],
    [1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
     2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05,
     4.36624404335156298e-05],
    [1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
     2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05,
     5.15138902046611451e-05],
]


def make_state(bodies):
    pos = [[b[k] for k in range(3)] for b in bodies]
    vel = [[b[k + 3] * DAYS_PER_YEAR for k in range(3)] for b in bodies]
    mass = [b[6] * SOLAR_MASS for b in bodies]
    return pos, vel, mass


def offset_momentum(vel, mass):
    for k in range(3):
        momentum = 0.0
        for i in range(len(mass)):
            momentum += vel[i][k] * mass[i]
        vel[0][k] = -momentum / mass[0]


def energy(pos, vel, mass):
    total = 0.0
    n = len(mass)
    for i in range(n):
        vi = vel[i]
        total += 0.5 * mass[i] * (vi[0] * vi[0] + vi[1] * vi[1] + vi[2] * vi[2])
        for j in range(i + 1, n):
            dx = pos[i][0] - pos[j][0]
            dy = pos[i][1] - pos[j][1]
            dz = pos[i][2] - pos[j][2]
            total -= mass[i] * mass[j] / sqrt(dx * dx + dy * dy + dz * dz)
    return total


def advance(pos, vel, mass, dt, steps):
    n = len(mass)
    for _ in range(steps):
        for i in range(n):
            pi, vi = pos[i], vel[i]
            for j in range(i + 1, n):
                pj, vj = pos[j], vel[j]
                dx = pi[0] - pj[0]
                dy = pi[1] - pj[1]
                dz = pi[2] - pj[2]
                d2 = dx * dx + dy * dy + dz * dz
                mag = dt / (d2 * sqrt(d2))
                mi = mass[i] * mag
                mj = mass[j] * mag
                vi[0] -= dx * mj
                vi[1] -= dy * mj
                vi[2] -= dz * mj
                vj[0] += dx * mi
                vj[1] += dy * mi
                vj[2] += dz * mi
        for i in range(n):
            pi, vi = pos[i], vel[i]
            pi[0] += dt * vi[0]
            pi[1] += dt * vi[1]
            pi[2] += dt * vi[2]


def size_from(args, default):
    if len(args) > 0 and args[-1].isdigit():
        return int(args[-1])
    return default


def main(args):
    steps = size_from(args, 200000)
    pos, vel, mass = make_state(SOLAR_SYSTEM)
    offset_momentum(vel, mass)
    print(f"{energy(pos, vel, mass):.9f}")
    advance(pos, vel, mass, 0.01, steps)
    print(f"{energy(pos, vel, mass):.9f}")


if __name__ == "__main__":
    main(sys.argv[1:])
