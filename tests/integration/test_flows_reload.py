"""Flow hot reload in the running platform: new calls get the new flow, a call in progress
finishes on its own, a broken flow is refused with its file and line."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.conftest import Platform
from tests.integration.test_agi import calling, engineer, in_stasis, prompts_of

VARIANT = """flow: test-variant
start: hello
languages: [zh, en]
nodes:
  hello:
{steps}
    - hangup: normal
"""


def reload(platform: Platform) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "flows", "reload", "--api",
                           platform.api], capture_output=True, text=True, timeout=60,
                          env=platform.env())


def test_new_calls_get_new_flows_and_calls_in_progress_keep_theirs(platform: Platform) -> None:
    path = platform.log.parent / "flows" / "variant.yaml"
    shipped = path.read_text()
    caller = "13912340005"
    try:
        path.write_text(VARIANT.format(steps="    - say: after_service\n" * 2))
        assert reload(platform).returncode == 0
        engineer(platform, "PUT", "/routes/12306", flow="test-variant")
        first = calling(platform, caller, "--hold", "20")
        in_stasis(platform, caller)
        path.write_text(VARIANT.format(steps="    - say: goodbye\n"))
        out = reload(platform)
        assert out.returncode == 0 and "test-variant" in out.stdout, out
        second = platform.call("--from", "13912340006", "--hold", "10")
        old = first.result(timeout=120)

        path.write_text(VARIANT.format(steps="    - say: no_such_prompt\n"))
        broken = reload(platform)
        third = platform.call("--from", "13912340007", "--hold", "10")
    finally:
        engineer(platform, "DELETE", "/routes/12306")
        path.write_text(shipped)
        reload(platform)
    assert prompts_of(platform, old) == ["after_service", "after_service"]
    assert prompts_of(platform, second) == ["goodbye"]
    assert broken.returncode == 1
    assert broken.stdout.startswith(f"{path}:6: ") and "no_such_prompt" in broken.stdout, broken
    assert prompts_of(platform, third) == ["goodbye"], "the running flow stayed"
