from test_fastpath import npl, clean_env, COMPILER_MODULES
def test_dbg(tmp_path):
    env = clean_env(tmp_path / "cache")
    env["NPL_DEBUG"] = "1"
    (tmp_path / "shapes.npl").write_text("def area(w: int, h: int) -> int:\n    return w * h\n")
    (tmp_path / "main.npl").write_text(
        "from shapes import area\n\ndef main():\n    print(area(2, 3))\n")
    import subprocess, sys, os
    for i in range(2):
        r = npl(["run", "main.npl"], tmp_path, env, tmp_path / "m")
        print(r.outcome, [m for m in COMPILER_MODULES if m in r.modules], len(r.modules))
        print(os.listdir(tmp_path / "cache"))
    code = "import os; from npl import fast; print(fast.cache_key('main.npl')); print(fast.lookup('main.npl')); print(os.listdir(os.environ['NPL_CACHE_DIR']+'/run'))"
    print(subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True))
    assert 0
