"""binary-trees: allocate and walk many perfect binary trees, keeping one
long-lived tree (Computer Language Benchmarks Game). Same algorithm as
binary_trees.npl, with a class standing in for the NPL struct.

Usage: python3 binary_trees.py [MAX_DEPTH]   (default 16)
"""
import sys


class Node:
    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left = left
        self.right = right


def make_tree(depth):
    if depth == 0:
        return Node(None, None)
    return Node(make_tree(depth - 1), make_tree(depth - 1))


def check(node):
    left = node.left
    if left is None:
        return 1
    right = node.right
    if right is None:
        return 1
    return 1 + check(left) + check(right)


def size_from(args, default):
    if len(args) > 0 and args[-1].isdigit():
        return int(args[-1])
    return default


def main(args):
    min_depth = 4
    max_depth = max(min_depth + 2, size_from(args, 16))
    stretch = max_depth + 1
    print(f"stretch tree of depth {stretch}\t check: {check(make_tree(stretch))}")
    long_lived = make_tree(max_depth)
    for depth in range(min_depth, max_depth + 1, 2):
        iterations = 2 ** (max_depth - depth + min_depth)
        total = 0
        for i in range(iterations):
            total += check(make_tree(depth))
        print(f"{iterations}\t trees of depth {depth}\t check: {total}")
    print(f"long lived tree of depth {max_depth}\t check: {check(long_lived)}")


if __name__ == "__main__":
    main(sys.argv[1:])
