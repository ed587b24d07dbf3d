#!/usr/bin/env python3
"""The docs checker: every command block of the docs is run, or says why not.

    check_docs.py --workdir DIR --out DIR FILE.md...

A fenced block whose language is sh, bash, shell or console is a command
block, and the line right before its fence must be a marker:

    <!-- test: run -->           run every command; each must exit 0
    <!-- test: run exit=N -->    ... each must exit N ("any": not checked)
    <!-- test: skip REASON -->   not run, for the REASON given (required)

A ```console block holds "$ COMMAND" lines, each followed by the output it
prints (stdout and stderr); a line "..." there matches any number of lines,
and "..." inside a line any text. A ```sh block's lines are the commands
(a trailing backslash continues one; "# ..." lines are comments; a command
whose last line ends in a comment saying "exit N" must exit N). The
commands of one file run in order in one bash (an export or a cd carries
on to the next block), in WORKDIR, where the repository's top-level entries
are linked and writes stay. A command that starts a server (dpm webhook,
dpm operator, dpm-test-apiserver) runs in the background until the end of
its block: it must print a line starting with "ready" within 30 s, and exit 0
on SIGTERM.

Every block (skipped ones too) is also checked against the binary: each
`dpm COMMAND --option` it writes must be in `dpm COMMAND --help`.

Prints "ok FILE:LINE ..." / "FAIL FILE:LINE ..." per block, and a block
count line "# N blocks run, N skipped" last. Exit 1 on a failure.
"""
import argparse
import os
import re
import shlex
import signal
import subprocess
import sys

LANGS = {"sh", "bash", "shell", "console"}
MARKER = re.compile(r"^<!--\s*test:\s*(run|skip)\b\s*(.*?)\s*-->\s*$")
SERVER = re.compile(r"(^|[\s/])(dpm\s+(webhook|operator)|dpm-test-apiserver)\b")


def blocks(path):
    """Yields (line, lang, marker_match or None, body lines) per fenced block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i
        j = i + 1
        while j < len(lines) and not re.match(r"^```\s*$", lines[j]):
            j += 1
        prev = lines[start - 1] if start > 0 else ""
        yield start + 1, lang, MARKER.match(prev), lines[start + 1:j]
        i = j + 1


def commands(lang, body):
    """[(command, expected output lines or None)] of a block."""
    out = []
    if lang == "console":
        for line in body:
            if line.startswith("$ "):
                out.append([line[2:], []])
            elif out and out[-1][0].endswith("\\") and not out[-1][1]:
                out[-1][0] = out[-1][0][:-1] + "\n" + line
            elif out:
                out[-1][1].append(line)
        return [(c, e) for c, e in out]
    cur = ""
    for line in body:
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur = cur + ("\n" if cur else "") + line
        if not line.endswith("\\"):
            out.append((cur, None))
            cur = ""
    if cur:
        out.append((cur, None))
    return out


def matches(expected, actual):
    """expected lines ("..." wildcards) against actual lines."""
    def line_ok(e, a):
        parts = e.split("...")
        rx = ".*".join(re.escape(p) for p in parts)
        return re.fullmatch(rx, a) is not None

    def go(i, j):
        if i == len(expected):
            return j == len(actual)
        if expected[i] == "...":
            return any(go(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and line_ok(expected[i], actual[j]) and go(i + 1, j + 1)
    exp = [e.rstrip() for e in expected]
    while exp and exp[-1] == "":
        exp.pop()
    act = [a.rstrip() for a in actual]
    while act and act[-1] == "":
        act.pop()
    expected, actual = exp, act
    return go(0, 0)


def dpm_options(cmd):
    """[(subcommand, option)] written in a command line."""
    try:
        toks = shlex.split(cmd.replace("\\\n", " "), comments=True)
    except ValueError:
        return []
    found = []
    sub = None
    at_cmd = True  # dpm counts as the command word only ("helm install dpm ..." names a release)
    for t in toks:
        if t in ("|", "&&", "||", ";") or t.endswith(";"):
            sub = None
            at_cmd = True
            continue
        if sub is None:
            if at_cmd and (t == "dpm" or t.endswith("/dpm")):
                sub = ""
            elif not (at_cmd and (t in ("sudo", "exec", "time", "env") or ("=" in t and not t.startswith("-")))):
                at_cmd = False
            continue
        if sub == "":
            sub = t if not t.startswith("-") else "--"
            if t.startswith("--"):
                found.append(("", t.split("=")[0]))
            continue
        if sub and t.startswith("--"):
            found.append((sub, t.split("=")[0]))
    return found


def help_of(dpm, sub, cache={}):
    if sub not in cache:
        args = [dpm] + ([sub] if sub else []) + ["--help"]
        r = subprocess.run(args, capture_output=True, text=True)
        cache[sub] = r.stdout + r.stderr
    return cache[sub]


def script_for(cmds, outdir, tag):
    """The bash text that runs a block's commands, with markers the caller parses."""
    s = []
    servers = []
    for n, (cmd, _) in enumerate(cmds):
        if SERVER.search(cmd.split("|")[0]) and "--help" not in cmd:
            log = os.path.join(outdir, "%s-server%d.log" % (tag, n))
            # A newline ends a trailing comment; exec gives $! the server's pid.
            s.append("{ exec %s\n} >%s 2>&1 &" % (cmd, shlex.quote(log)))
            s.append("_srv%d=$!" % n)
            s.append("for _ in $(seq 300); do grep -q '^ready' %s && break; "
                     "kill -0 $_srv%d 2>/dev/null || break; sleep 0.1; done" % (shlex.quote(log), n))
            s.append("if grep -q '^ready' %s; then echo '@@@rc %d 0'; else echo '@@@rc %d 99'; "
                     "echo 'not ready:'; tail -5 %s; fi" % (shlex.quote(log), n, n, shlex.quote(log)))
            servers.append(n)
        else:
            s.append("echo '@@@cmd %d'" % n)
            s.append(cmd)
            s.append("echo \"@@@rc %d $?\"" % n)
    for n in servers:
        s.append("kill -TERM $_srv%d 2>/dev/null; wait $_srv%d; echo \"@@@stop %d $?\"" % (n, n, n))
    return "\n".join(s) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dpm", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    failed = run = skipped = 0

    def report(ok, where, what, detail=""):
        nonlocal failed
        print(("ok " if ok else "FAIL ") + where + " " + what)
        if not ok:
            failed += 1
            for d in detail.rstrip().split("\n")[-25:] if detail.strip() else []:
                print("    " + d)

    for path in a.files:
        tag = re.sub(r"[^A-Za-z0-9]", "_", path)
        # One bash per file: the env file carries exports and cd between blocks.
        env = os.path.join(a.out, tag + ".env")
        open(env, "w").write("cd %s\n" % shlex.quote(a.workdir))
        for line, lang, marker, body in blocks(path):
            if lang not in LANGS:
                continue
            where = "%s:%d" % (path, line)
            cmds = commands(lang, body)
            bad = [(s, o) for c, _ in cmds for s, o in dpm_options(c)
                   if s not in ("--",) and o not in help_of(a.dpm, s)]
            if bad:
                report(False, where, "names options dpm does not have",
                       "\n".join("dpm %s %s is not in `dpm %s --help`" % (s, o, s) for s, o in bad))
                continue
            if marker is None:
                report(False, where, "command block without a <!-- test: run|skip REASON --> marker")
                continue
            mode, arg = marker.group(1), marker.group(2)
            if mode == "skip":
                if not arg:
                    report(False, where, "<!-- test: skip --> without a reason")
                else:
                    skipped += 1
                    print("skip %s (%s)" % (where, arg))
                continue
            want = 0
            m = re.match(r"exit=(\d+|any)$", arg)
            if arg and not m:
                report(False, where, "unknown marker argument %r" % arg)
                continue
            if m:
                want = None if m.group(1) == "any" else int(m.group(1))
            if lang == "console" and not m:
                want = None  # a console block shows what a command prints, whatever its status
            script = "set -o pipefail\n. %s\n" % shlex.quote(env)
            script += script_for(cmds, a.out, "%s-%d" % (tag, line))
            script += ("declare -px | grep -Ev '^declare -[a-zA-Z-]+ (PWD|OLDPWD|SHLVL|_)=' > %s.new\n"
                       "echo \"cd $(printf %%q \"$PWD\")\" >> %s.new\n") % (shlex.quote(env), shlex.quote(env))
            # Its own session: on a timeout the whole group goes, servers included.
            p = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                text, _ = p.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                text, _ = p.communicate()
                report(False, where, "timed out after 300 s", text or "")
                continue
            try:  # a server its block did not stop
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

            class R:
                stdout = text
            r = R()
            if os.path.exists(env + ".new"):
                os.replace(env + ".new", env)
            # Split the transcript at the markers.
            outs, rcs, stops, cur = {}, {}, {}, None
            for ln in (r.stdout.split("\n")):
                mm = re.match(r"^@@@(cmd|rc|stop) (\d+)(?: (\d+))?$", ln)
                if mm:
                    k, n = mm.group(1), int(mm.group(2))
                    if k == "cmd":
                        cur = n
                        outs[n] = []
                    elif k == "rc":
                        rcs[n] = int(mm.group(3))
                        cur = None
                    else:
                        stops[n] = int(mm.group(3))
                    continue
                if cur is not None:
                    outs[cur].append(ln)
            problems = []
            for n, (cmd, expected) in enumerate(cmds):
                short = cmd.split("\n")[0][:90]
                if n not in rcs:
                    problems.append("`%s` did not run to the end:\n%s" % (short, text[-1500:]))
                    break
                if SERVER.search(cmd.split("|")[0]) and "--help" not in cmd:
                    if rcs[n] != 0:
                        problems.append("server `%s` never printed ready" % short)
                    elif stops.get(n) != 0:
                        problems.append("server `%s` exited %s on SIGTERM" % (short, stops.get(n)))
                    continue
                # "# exit N" (or "any") closing a command's last line overrides the block's.
                me = re.search(r"#.*\bexit (\d+|any)\b[^\n]*$", cmd)
                w = want if not me else (None if me.group(1) == "any" else int(me.group(1)))
                if w is not None and rcs[n] != w:
                    problems.append("`%s` exited %d, want %d:\n%s" % (short, rcs[n], w,
                                                                     "\n".join(outs.get(n, [])[-15:])))
                if expected is not None and not matches(expected, outs.get(n, [])):
                    problems.append("`%s` printed:\n%s\nthe docs show:\n%s" % (
                        short, "\n".join(outs.get(n, [])[:40]), "\n".join(expected)))
            run += 1
            report(not problems, where, "%s block, %d command%s" % (
                lang, len(cmds), "" if len(cmds) == 1 else "s"), "\n".join(problems))
    print("# %d blocks run, %d skipped with a reason" % (run, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
