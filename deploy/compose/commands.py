#!/usr/bin/env python3
"""The commands of deploy/compose/docker-compose.yml, for deploy/check-deploy.sh
and deploy/compose/run-local.sh.

  docker-compose -f deploy/compose/docker-compose.yml config > C.yml
  commands.py services C.yml
      one JSON line per service: {"service", "argv", "equifl"}; argv is the
      entrypoint (the image's: equifl) followed by the command, equifl the equifl
      command line in it (null for a service that runs none)
  commands.py readme README.md
      the commands of the README's fenced block after the line
      `<!-- check-deploy: compose commands -->`, one per line, continuation lines
      joined and comments dropped
  commands.py plan C.yml HAS_HTTP HAS_METRICS
      run-local.sh's plan: one line per service, `NAME ROLE ARGV_JSON`; ROLE is
      once (another service waits for it to complete), serve (another waits for
      it to start) or run. Bind-mounted paths become their host paths, each
      0.0.0.0:N a free port of its own (and SERVICE:N in the others follows it);
      --http/--metrics (and --http-token-file) are dropped unless HAS_* is yes
  commands.py show ARGV_JSON      the argv as a shell command line
  commands.py exec ARGV_JSON      runs it (exec)
  commands.py metrics LOG PREFIX CA TOKEN NAMES_FILE
      waits for the line `PREFIX URL` in LOG, GETs URL's /metrics with the
      token (an HTTPS server checked against CA), prints the equifl_ metrics and
      fails on one that NAMES_FILE does not list

A command line is its words joined by single spaces (shlex-split, so quoting and
line breaks do not matter). Needs python3, and PyYAML (python3-yaml, which
Debian's docker-compose depends on) for services and plan.
"""
import json
import os
import re
import shlex
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

README_MARKER = "<!-- check-deploy: compose commands -->"
SHELL_OPERATORS = {";", "&&", "||", "|", "&", ")"}


def load_services(path):
    import yaml  # only these modes need PyYAML

    with open(path, encoding="utf-8") as file:
        return yaml.safe_load(file)["services"]


def argv_of(service):
    entrypoint = service.get("entrypoint", ["equifl"])
    command = service.get("command", [])
    if isinstance(entrypoint, str):
        entrypoint = shlex.split(entrypoint)
    if isinstance(command, str):
        command = shlex.split(command)
    return list(entrypoint) + list(command)


def equifl_words(argv):
    """The words of the equifl command in argv, or None."""
    if len(argv) >= 3 and argv[0] in ("sh", "/bin/sh") and argv[1] == "-c":
        words = shlex.split(argv[2])
        if "equifl" not in words:
            return None
        start = end = words.index("equifl")
        while end < len(words) and words[end] not in SHELL_OPERATORS:
            end += 1
        return words[start:end]
    if argv and argv[0] == "equifl-restartable":
        argv = argv[1:]
    if argv and argv[0] == "equifl":
        return list(argv)
    return None


def services(path):
    for name, service in load_services(path).items():
        argv = argv_of(service)
        words = equifl_words(argv)
        print(json.dumps({"service": name, "argv": argv,
                          "equifl": " ".join(words) if words else None}))


def readme(path):
    with open(path, encoding="utf-8") as file:
        lines = file.read().splitlines()
    try:
        start = lines.index(README_MARKER)
    except ValueError:
        sys.exit(f"{path}: no line '{README_MARKER}'")
    fence = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("```")), None)
    if fence is None:
        sys.exit(f"{path}: no fenced block after '{README_MARKER}'")
    pending = ""
    for line in lines[fence + 1:]:
        if line.startswith("```"):
            break
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        words = shlex.split(pending, comments=True)
        pending = ""
        if words:
            print(" ".join(words))


def free_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def plan(path, has_http, has_metrics):
    config = load_services(path)
    roles = {}
    for service in config.values():
        for name, dependency in service.get("depends_on", {}).items():
            completed = dependency.get("condition") == "service_completed_successfully"
            roles[name] = "once" if completed else "serve"
    argvs, moved = {}, {}
    for name, service in config.items():
        binds = {}
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("/"):
                binds[target] = source
        dropped = set()
        if "server" in argv_of(service) and has_http != "yes":
            dropped |= {"--http", "--http-token-file"}
        if "client" in argv_of(service) and has_metrics != "yes":
            dropped |= {"--metrics", "--http-token-file"}
        argv, skip = [], False
        for word in argv_of(service):
            if skip or word in dropped:
                skip = not skip
                continue
            word = binds.get(word, word)
            if word.startswith("0.0.0.0:"):
                port = free_port()
                moved[f"{name}:{word.split(':')[1]}"] = f"{name}:{port}"
                word = f"0.0.0.0:{port}"
            argv.append(word)
        argvs[name] = argv
    for name, argv in argvs.items():
        argv = [moved.get(word, word) for word in argv]
        print(name, roles.get(name, "run"), json.dumps(argv))


def metrics(log, prefix, ca, token, names_file):
    for _ in range(300):
        with open(log, encoding="utf-8", errors="replace") as file:
            match = re.search(re.escape(prefix) + r"(\S+?)(metrics)?[ \n]", file.read())
        if match:
            break
        time.sleep(0.1)
    else:
        sys.exit(f"{log}: no line '{prefix}URL' in 30 s")
    url = match.group(1).replace("0.0.0.0", "127.0.0.1").rstrip("/") + "/metrics"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    note = ""
    try:
        context = ssl.create_default_context(cafile=ca)
        body = urllib.request.urlopen(request, timeout=10, context=context).read()
    except urllib.error.URLError as error:
        if not isinstance(error.reason, ssl.SSLCertVerificationError):
            raise
        # Say so, and look at the metrics anyway.
        note = f" (its certificate does not verify: {error.reason.verify_message})"
        context = ssl._create_unverified_context()
        body = urllib.request.urlopen(request, timeout=10, context=context).read()
    exported = set()
    for line in body.decode().splitlines():
        if line.startswith("equifl_"):
            exported.add(re.sub(r"_(bucket|sum|count)$", "", re.split(r"[{ ]", line)[0]))
    with open(names_file, encoding="utf-8") as file:
        listed = set(file.read().split())
    print(f"   GET {url} with the token{note}: {', '.join(sorted(exported))}")
    unknown = sorted(exported - listed)
    if unknown:
        sys.exit(f"{url} exports metrics {names_file} lacks: {', '.join(unknown)}")


def main(args):
    modes = {
        "services": (1, services),
        "readme": (1, readme),
        "plan": (3, plan),
        "show": (1, lambda argv: print(shlex.join(json.loads(argv)))),
        "exec": (1, lambda argv: os.execvp(json.loads(argv)[0], json.loads(argv))),
        "metrics": (5, metrics),
    }
    if not args or args[0] not in modes or len(args) - 1 != modes[args[0]][0]:
        sys.exit(__doc__)
    modes[args[0]][1](*args[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
