"""Check, offline, what `sam build` makes of infra/template.yaml for a given Rust package (make test).

`sam build --template infra/template.yaml --parameter-overrides CodeUri=<package>` groups the
functions into builds the way this script asks the SAM CLI to (its own build graph, from the
pinned SAM CLI in .venv-sam), without compiling anything. For the stock package and for the
example crate it checks that:
- every function of the template is in one build, so the stack is one cargo-lambda build;
- that build's code is the package given, and the binary SAM's cargo-lambda builder copies into
  every function is the package's only binary (the builder's own lookup, from `cargo metadata`);
- each function names which one it is (JOBQ_FUNCTION), each a different one.

Usage: check-template-build.py [PACKAGE_DIR ...] (default: functions/lambda and
examples/thumbnail-worker); JOBQ_TEMPLATE: another template to check.
"""

import os
import pathlib
import shutil
import sys
import tempfile

from aws_lambda_builders.workflows.rust_cargo.cargo_lambda import SubprocessCargoLambda
from samcli.lib.build.app_builder import ApplicationBuilder
from samcli.lib.providers.provider import ResourcesToBuildCollector
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = pathlib.Path(os.environ.get("JOBQ_TEMPLATE", ROOT / "infra" / "template.yaml")).resolve()
FUNCTIONS = {"api", "worker", "dlq", "counter", "ingest", "scheduler"}


def build_graph(package: pathlib.Path):
    """The SAM CLI's build graph of the template with `CodeUri` set to `package`."""
    stacks, _ = SamLocalStackProvider.get_stacks(str(TEMPLATE), parameter_overrides={"CodeUri": str(package)})
    functions = SamFunctionProvider(stacks).get_all()
    resources = ResourcesToBuildCollector()
    resources.add_functions(list(functions))
    with tempfile.TemporaryDirectory() as scratch:
        builder = ApplicationBuilder(resources, build_dir=scratch, base_dir=str(TEMPLATE.parent), cache_dir=scratch)
        return builder._get_build_graph(), stacks


def binary_of(package: pathlib.Path) -> str:
    """The binary SAM's cargo-lambda builder copies for a build of `package` with no `Binary`."""
    cargo = shutil.which("cargo") or str(pathlib.Path.home() / ".cargo" / "bin" / "cargo")
    layout = SubprocessCargoLambda(which=shutil.which)
    return layout.resolve_workspace_layout(cargo, str(package))["binary_name"]


def check(package: pathlib.Path) -> list:
    graph, stacks = build_graph(package)
    builds = list(graph.get_function_build_definitions())
    problems = []
    if len(builds) != 1:
        problems.append(f"{len(builds)} builds, not one: {[str(b) for b in builds]}")
    for build in builds:
        if pathlib.Path(build.codeuri).resolve() != package:
            problems.append(f"a build's code is {build.codeuri}, not {package}")
        if "BuildProperties" in build.metadata:
            problems.append(f"a build names its binary ({build.metadata['BuildProperties']}): it must be the package's only one")
    resources = stacks[0].resources
    named = {}
    for build in builds:
        for function in build.functions:
            variables = resources[function.name]["Properties"].get("Environment", {}).get("Variables", {})
            named[function.name] = variables.get("JOBQ_FUNCTION")
    if sorted(named.values(), key=str) != sorted(FUNCTIONS):
        problems.append(f"the functions name {named}, not each of {sorted(FUNCTIONS)} once")
    binary = binary_of(package)
    if binary is None:
        problems.append(f"{package} has not exactly one binary: SAM's builder would not know which to deploy")
    print(f"check-template-build: {package.relative_to(ROOT)}: {len(builds)} build(s) of {len(named)} functions, binary {binary}")
    return problems


def main(argv) -> int:
    packages = [pathlib.Path(p).resolve() for p in argv] or [ROOT / "functions" / "lambda", ROOT / "examples" / "thumbnail-worker"]
    os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
    failed = False
    for package in packages:
        for problem in check(package):
            print(f"check-template-build: {package}: {problem}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
