"""n-body with hand-written Numba kernels: the same algorithm as nbody.npl,
each @kernel there an @njit function here (cache=True, so a second run
loads the machine code from NUMBA_CACHE_DIR instead of compiling).

Usage: python3 nbody_numba.py [STEPS]   (default 200000)
"""
import sys
from math import sqrt

import numpy as np
from numba import njit

from nbody import SOLAR_SYSTEM, DAYS_PER_YEAR, SOLAR_MASS, size_from


def make_state(bodies):
    data = np.array(bodies)
    return data[:, 0:3].copy(), data[:, 3:6] * DAYS_PER_YEAR, data[:, 6] * SOLAR_MASS


@njit(cache=True)
def offset_momentum(vel, mass):
    for k in range(3):
        momentum = 0.0
        for i in range(len(mass)):
            momentum += vel[i, k] * mass[i]
        vel[0, k] = -momentum / mass[0]


@njit(cache=True)
def energy(pos, vel, mass):
    total = 0.0
    n = len(mass)
    for i in range(n):
        speed2 = vel[i, 0] * vel[i, 0] + vel[i, 1] * vel[i, 1] + vel[i, 2] * vel[i, 2]
        total += 0.5 * mass[i] * speed2
        for j in range(i + 1, n):
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            total -= mass[i] * mass[j] / sqrt(dx * dx + dy * dy + dz * dz)
    return total


@njit(cache=True)
def advance(pos, vel, mass, dt, steps):
    n = len(mass)
    for _ in range(steps):
        for i in range(n):
            for j in range(i + 1, n):
                dx = pos[i, 0] - pos[j, 0]
                dy = pos[i, 1] - pos[j, 1]
                dz = pos[i, 2] - pos[j, 2]
                d2 = dx * dx + dy * dy + dz * dz
                mag = dt / (d2 * sqrt(d2))
                mi = mass[i] * mag
                mj = mass[j] * mag
                vel[i, 0] -= dx * mj
                vel[i, 1] -= dy * mj
                vel[i, 2] -= dz * mj
                vel[j, 0] += dx * mi
                vel[j, 1] += dy * mi
                vel[j, 2] += dz * mi
        for i in range(n):
            pos[i, 0] += dt * vel[i, 0]
            pos[i, 1] += dt * vel[i, 1]
            pos[i, 2] += dt * vel[i, 2]


def main(args):
    steps = size_from(args, 200000)
    pos, vel, mass = make_state(SOLAR_SYSTEM)
    offset_momentum(vel, mass)
    print(f"{energy(pos, vel, mass):.9f}")
    advance(pos, vel, mass, 0.01, steps)
    print(f"{energy(pos, vel, mass):.9f}")


if __name__ == "__main__":
    main(sys.argv[1:])
