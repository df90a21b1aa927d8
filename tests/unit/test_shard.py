"""Shards: deterministic, balanced, and stable when tenants or runners are added (consistent hashing)."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gcloud.errors import InputError
from gcloud.model import load_fleet
from gcloud.plan.shard import Shard, parse_shard, restrict, select_shard, shard_of, shard_option

REPO = Path(__file__).resolve().parents[2]


def _names(count: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    return [f"t{rng.randrange(10**9):09d}-{i}" for i in range(count)]


def test_same_shard_in_another_process() -> None:
    """The split is the same in every process (no salted hash()): two CI machines agree."""
    names = _names(50)
    here = [shard_of(name, 7) for name in names]
    code = ("import sys; from gcloud.plan.shard import shard_of; "
            "print(' '.join(str(shard_of(n, 7)) for n in sys.argv[1:]))")
    there = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"}, cwd=REPO).stdout.split()
    assert [int(s) for s in there] == here
    # a known value pins the hash itself: changing it would move every tenant of every fleet
    assert [shard_of(n, 3) for n in ("czj", "gaj", "jyj", "wjw", "zwfw")] == [1, 2, 2, 1, 3]
    assert shard_of("czj", 1) == 1


def test_shards_partition_the_fleet() -> None:
    names = _names(300)
    parts = [select_shard(names, index, 5) for index in range(1, 6)]
    assert sorted(n for part in parts for n in part) == sorted(names)
    assert sum(len(part) for part in parts) == len(names)


def test_balanced_within_twenty_percent() -> None:
    counts = Counter(shard_of(name, 4) for name in _names(1000))
    assert set(counts) == {1, 2, 3, 4}
    for shard, count in counts.items():
        assert 200 <= count <= 300, (shard, counts)


def test_adding_a_tenant_moves_no_other() -> None:
    names = _names(400)
    before = {name: shard_of(name, 4) for name in names}
    grown = [*names, "new-department"]
    after = {name: shard_of(name, 4) for name in grown}
    assert {n: after[n] for n in names} == before
    # and with i % N over the sorted names, the same addition would have moved many
    ordered = sorted(names)
    modulo = {n: i % 4 for i, n in enumerate(ordered)}
    regrown = sorted(grown)
    moved_modulo = sum(1 for i, n in enumerate(regrown) if n in modulo and i % 4 != modulo[n])
    assert moved_modulo > 50


@pytest.mark.parametrize("count", [2, 3, 4, 8])
def test_one_more_runner_moves_about_one_in_n_plus_one(count: int) -> None:
    names = _names(2000, seed=count)
    moved = [n for n in names if shard_of(n, count) != shard_of(n, count + 1)]
    expected = len(names) / (count + 1)
    assert 0.8 * expected <= len(moved) <= 1.2 * expected
    assert all(shard_of(n, count + 1) == count + 1 for n in moved)  # they only ever move to the new runner


@pytest.mark.parametrize(("text", "shard"), [("1/1", Shard(1, 1)), ("2/3", Shard(2, 3)), (" 3 / 3 ", Shard(3, 3))])
def test_parse(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard
    assert str(parse_shard(text)) == f"{shard.index}/{shard.count}"


@pytest.mark.parametrize("text", ["0/3", "4/3", "2", "a/b", "1/0", "-1/3", "1/3/4", "", "2/1001"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_shard(text)
    [problem] = caught.value.problems
    assert problem.location.file == "--shard"
    assert "I/N" in problem.hint


def test_shard_option() -> None:
    assert shard_option(None) is None
    assert shard_option("1/2") == Shard(1, 2)


def test_restrict_keeps_the_set_and_narrows_targets() -> None:
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml")
    names = [doc.name for doc in fleet.tenants]
    parts = [restrict(fleet, Shard(i, 3)) for i in (1, 2, 3)]
    assert all(len(part.tenants) == len(names) for part in parts)
    assert sorted(doc.name for part in parts for doc in part.targets) == sorted(names)
    assert [doc.name for doc in parts[1].targets] == select_shard(names, 2, 3)
    assert restrict(fleet, None) is fleet


def _tenant_list(*args: str) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from cli.app import app

    result = CliRunner().invoke(app, ["tenant", "list", *args, "--platform", str(REPO / "platform.yaml")])
    return result.exit_code, result.stdout, result.stderr


def test_tenant_list_shards_as_json() -> None:
    import json

    seen: list[str] = []
    for index in (1, 2, 3):
        code, out, _ = _tenant_list(str(REPO / "tenants"), "--shard", f"{index}/3", "--output", "json")
        assert code == 0
        document = json.loads(out)
        assert document["shard"] == f"{index}/3" and document["fleet"] == 9
        seen += [tenant["name"] for tenant in document["tenants"]]
        assert all(shard_of(tenant["name"], 3) == index for tenant in document["tenants"])
    assert sorted(seen) == sorted(p.stem for p in (REPO / "tenants").glob("*.yaml"))
    code, out, _ = _tenant_list(str(REPO / "tenants"))
    assert code == 0 and "市公安局" in out  # display names intact


def test_tenant_list_refuses_a_bad_shard() -> None:
    """Through the real entry point: the error boundary maps the InputError to exit 2 and one line."""
    done = subprocess.run([sys.executable, "-m", "gcloud.cli", "tenant", "list", "--shard", "0/3"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "--shard" in done.stderr and "I must be 1..3" in done.stderr and done.stdout == ""
