#!/usr/bin/env bash
# Checks the deployment files without a Docker daemon or a cluster:
#   - every kustomization under deploy/kubernetes renders (`kubectl kustomize`), uses
#     only fields kustomize 2.0.3 (Debian's kubectl 1.20) reads too, and renders
#     YAML documents with apiVersion, kind and a name (with python3-yaml);
#   - deploy/compose/docker-compose.yml is valid (`docker-compose config -q`) and
#     its services run exactly the `equifl` commands the README lists after
#     `<!-- check-deploy: compose commands -->`;
#   - deploy/grafana/equifl-dashboard.json is JSON, takes its data source from
#     ${DS_PROMETHEUS}, and uses only the metrics of deploy/grafana/metric-names.txt
#     (a histogram's _bucket, _sum and _count included);
#   - the shell scripts parse;
#   - with a built binary (EQUIFL, default build/default/app/equifl): the YAML
#     configurations load, and the runtime image installs the package of every
#     shared library the binary links (deploy/Dockerfile, stage 2).
#
#   deploy/check-deploy.sh               # the checks above
#   deploy/check-deploy.sh --run-local   # and run the compose services as local
#                                        # processes (deploy/compose/run-local.sh)
# Needs kubectl, docker-compose and python3. Exits 1 naming the first failure.
set -euo pipefail

cd "$(dirname "$0")/.."
run_local=no
case "${1:-}" in
  "") ;;
  --run-local) run_local=yes ;;
  *)
    echo "usage: deploy/check-deploy.sh [--run-local]" >&2
    exit 2
    ;;
esac

fail() {
  echo "check-deploy: FAILED: $*" >&2
  exit 1
}
ok() { echo "  ok  $*"; }
for tool in kubectl docker-compose python3; do
  command -v "$tool" > /dev/null ||
    fail "$tool is not installed (deploy/install-deps.sh; Debian: kubernetes-client, docker-compose, python3)"
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
have_yaml=no
if python3 -c 'import yaml' 2> /dev/null; then have_yaml=yes; fi

echo "== Kubernetes: kubectl kustomize ($(kubectl version --client 2>/dev/null | head -n 1))"
# Top-level fields of a kustomization that kustomize 2.0.3 reads as well as today's.
allowed_fields="resources namespace namePrefix nameSuffix commonLabels commonAnnotations
  images configMapGenerator secretGenerator generatorOptions"
kustomizations=$(find deploy/kubernetes -name kustomization.yaml | sort)
[ -n "$kustomizations" ] || fail "no kustomization.yaml under deploy/kubernetes"
for file in $kustomizations; do
  dir=$(dirname "$file")
  for field in $(grep -oE '^[A-Za-z]+:' "$file" | tr -d :); do
    [[ " $(echo $allowed_fields) " == *" $field "* ]] ||
      fail "$file: field '$field' is not one kustomize 2.0.3 (kubectl 1.20) reads; allowed: $(echo $allowed_fields)"
  done
  kubectl kustomize "$dir" > "$scratch/rendered.yaml" 2> "$scratch/kustomize.err" ||
    { cat "$scratch/kustomize.err" >&2; fail "kubectl kustomize $dir"; }
  if [ "$have_yaml" = yes ]; then
    resources=$(python3 - "$scratch/rendered.yaml" << 'EOF'
import sys, yaml
names = []
for document in yaml.safe_load_all(open(sys.argv[1])):
    if document is None:
        continue
    for key in ("apiVersion", "kind", "metadata"):
        if key not in document:
            sys.exit(f"a rendered document has no {key}: {str(document)[:200]}")
    names.append(f"{document['kind']}/{document['metadata']['name']}")
print(" ".join(names))
EOF
    ) || fail "kubectl kustomize $dir renders a document that is not a resource"
    ok "$dir: $resources"
  else
    ok "$dir renders ($(grep -c '^kind:' "$scratch/rendered.yaml") resources; python3-yaml missing: not parsed)"
  fi
done

echo "== docker-compose: deploy/compose/docker-compose.yml ($(docker-compose version --short 2>/dev/null))"
compose=deploy/compose/docker-compose.yml
docker-compose -f "$compose" config -q 2> "$scratch/compose.err" ||
  { cat "$scratch/compose.err" >&2; fail "docker-compose -f $compose config"; }
ok "docker-compose config -q"
if [ "$have_yaml" = yes ]; then
  docker-compose -f "$compose" config > "$scratch/compose.yml" 2> /dev/null
  python3 deploy/compose/commands.py services "$scratch/compose.yml" |
    python3 -c 'import json, sys; [print(s["equifl"]) for s in map(json.loads, sys.stdin) if s["equifl"]]' |
    sort > "$scratch/compose.commands"
  python3 deploy/compose/commands.py readme README.md | sort > "$scratch/readme.commands" ||
    fail "README.md: the compose commands cannot be read"
  [ -s "$scratch/compose.commands" ] || fail "$compose: no service runs equifl"
  if ! diff -u "$scratch/readme.commands" "$scratch/compose.commands" > "$scratch/commands.diff"; then
    sed '1,2d' "$scratch/commands.diff" >&2
    fail "README.md's compose commands (-) differ from what $compose runs (+)"
  fi
  ok "README.md lists the $(wc -l < "$scratch/compose.commands") equifl commands the compose services run"
else
  fail "python3-yaml is needed to compare the compose commands with README.md (Debian: python3-yaml)"
fi

echo "== Grafana: deploy/grafana/equifl-dashboard.json"
dashboard=deploy/grafana/equifl-dashboard.json
names=deploy/grafana/metric-names.txt
python3 -m json.tool "$dashboard" > /dev/null || fail "$dashboard is not valid JSON"
ok "valid JSON"
python3 - "$dashboard" "$names" << 'EOF' || fail "$dashboard"
import json, re, sys
text = open(sys.argv[1]).read()
dashboard = json.loads(text)
listed = [line.strip() for line in open(sys.argv[2]) if line.strip() and not line.startswith("#")]
if len(set(listed)) != len(listed):
    sys.exit(f"{sys.argv[2]} lists a name twice")
used = set(re.findall(r"equifl_[a-z0-9_]+", text))
unknown = sorted(n for n in used
                 if n not in listed and re.sub(r"_(bucket|sum|count)$", "", n) not in listed)
if unknown:
    sys.exit(f"uses metrics that {sys.argv[2]} does not list: {', '.join(unknown)}")
def sources(node):
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            yield node["datasource"]
        for value in node.values():
            yield from sources(value)
    elif isinstance(node, list):
        for value in node:
            yield from sources(value)
wrong = [s for s in sources(dashboard) if s.get("type") == "prometheus" and s.get("uid") != "${DS_PROMETHEUS}"]
if wrong:
    sys.exit(f"a Prometheus data source is not ${{DS_PROMETHEUS}}: {wrong[0]}")
variables = {v["name"]: v["type"] for v in dashboard.get("templating", {}).get("list", [])}
if variables.get("DS_PROMETHEUS") != "datasource":
    sys.exit("no templating variable DS_PROMETHEUS of type datasource")
targets = text.count('"expr"')
unused = sorted(set(listed) - {re.sub(r"_(bucket|sum|count)$", "", n) for n in used})
print(f"  ok  {targets} queries use {len(used)} names, all in {sys.argv[2]}"
      + (f"; not shown: {', '.join(unused)}" if unused else "; every listed metric is shown"))
EOF

echo "== scripts"
for script in deploy/equifl-restartable.sh; do
  sh -n "$script" || fail "$script does not parse (sh -n)"
  [ -x "$script" ] || fail "$script is not executable (the image copies it as it is)"
done
for script in deploy/check-deploy.sh deploy/compose/run-local.sh deploy/make-media-corpus.sh \
  deploy/demo-media.sh; do
  bash -n "$script" || fail "$script does not parse (bash -n)"
done
python3 -m py_compile deploy/compose/commands.py 2> "$scratch/py.err" ||
  { cat "$scratch/py.err" >&2; fail "deploy/compose/commands.py does not compile"; }
rm -rf deploy/compose/__pycache__
ok "deploy/equifl-restartable.sh, deploy/check-deploy.sh, deploy/compose/run-local.sh, deploy/make-media-corpus.sh, deploy/demo-media.sh, deploy/compose/commands.py"

equifl=${EQUIFL:-build/default/app/equifl}
if [ -x "$equifl" ]; then
  echo "== with $equifl ($("$equifl" --version))"
  "$equifl" data synth --out "$scratch/data" --clients 1 --samples-per-client 20 \
    --bayes-samples 0 > /dev/null ||
    fail "equifl data synth (for the configuration check)"
  for config in deploy/config/*.yaml deploy/compose/federation.yaml \
    deploy/kubernetes/federation/federation.yaml; do
    "$equifl" --config "$config" data inspect "$scratch/data/client-000" > /dev/null 2> "$scratch/config.err" ||
      { cat "$scratch/config.err" >&2; fail "$config does not load"; }
  done
  ok "the configurations load: deploy/config/*.yaml, deploy/compose/federation.yaml, deploy/kubernetes/federation/federation.yaml"
  if command -v readelf > /dev/null &&
    readelf -d "$equifl" | grep -Eq 'NEEDED.*\[lib(a|ub|t)san\.so'; then
    # A sanitizer build links its runtime and more of its libraries directly; no
    # image is built from one.
    ok "deploy/Dockerfile's runtime libraries: not checked against a sanitizer build"
  elif command -v dpkg > /dev/null && command -v readelf > /dev/null; then
    # Stage 2's package list: the words after --no-install-recommends, up to &&.
    installed=$(sed -n '/^FROM debian:12-slim/,$p' deploy/Dockerfile |
      sed -n '/--no-install-recommends/,/&&/p' | tr -d '\\' |
      sed 's/.*--no-install-recommends//; s/&&.*//')
    # libc6, libstdc++6 and libgcc-s1 are in debian:12-slim already.
    for library in $(readelf -d "$equifl" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      path=$(ldd "$equifl" | awk -v l="$library" '$1 == l { print $3 }')
      [ -n "$path" ] || fail "$equifl needs $library, which ldd does not find"
      package=$(dpkg -S "$(readlink -f "$path")" 2> /dev/null | head -n 1 | cut -d: -f1) ||
        package=$(dpkg -S "$path" 2> /dev/null | head -n 1 | cut -d: -f1) || true
      [ -n "$package" ] || fail "no Debian package holds $path ($library)"
      case " libc6 libstdc++6 libgcc-s1 $(echo $installed) " in
        *" $package "*) ;;
        *) fail "deploy/Dockerfile's runtime stage does not install $package (for $library)" ;;
      esac
    done
    ok "deploy/Dockerfile's runtime stage installs the package of every library $equifl links"
  fi
else
  echo "== no binary at $equifl (EQUIFL=...): the configurations and the image's libraries are not checked"
fi

if [ "$run_local" = yes ]; then
  echo "== deploy/compose/run-local.sh $equifl"
  deploy/compose/run-local.sh "$equifl" || fail "deploy/compose/run-local.sh"
fi
echo "check-deploy: all checks passed"
