def main():
    raise SystemExit("npl: not built yet")
