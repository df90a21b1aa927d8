"""The wrapper go.mod that builds k/k and etcd outside their source trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcloud.errors import EnvironmentProblem
from gcloud.sandbox.kube_build import (
    ETCD_MODULE,
    KUBE_MODULE,
    _run_go,
    kube_ldflags,
    parse_go_mod,
    sibling_version,
    wrapper_go_mod,
)

KK_GO_MOD = """\
// This is a generated file. Do not edit directly.
module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
	github.com/blang/semver/v4 v4.0.0
	k8s.io/api v0.0.0
	k8s.io/apiserver v0.0.0 // indirect
	k8s.io/client-go v0.0.0
)

require sigs.k8s.io/yaml v1.6.0

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apiserver => ./staging/src/k8s.io/apiserver
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
)

replace github.com/atotto/clipboard v0.1.4 => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
"""

ETCD_GO_MOD = """\
module go.etcd.io/etcd/server/v3

go 1.26.0

require (
	go.etcd.io/etcd/api/v3 v3.6.16
	go.etcd.io/etcd/client/v3 v3.6.16
)

replace (
	go.etcd.io/etcd/api/v3 => ../api
	go.etcd.io/etcd/client/v3 => ../client/v3
)

// Bad imports are sometimes causing attempts to pull that code.
// This makes the error more explicit.
replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
"""


def test_parse_reads_block_and_single_line_directives() -> None:
    mod = parse_go_mod(KK_GO_MOD)
    assert mod.module == KUBE_MODULE
    assert mod.go == "1.26.0"
    assert mod.requires == {
        "github.com/blang/semver/v4": "v4.0.0", "k8s.io/api": "v0.0.0", "k8s.io/apiserver": "v0.0.0",
        "k8s.io/client-go": "v0.0.0", "sigs.k8s.io/yaml": "v1.6.0",
    }
    assert len(mod.replaces) == 5
    clipboard = mod.replaces[-1]
    assert (clipboard.old, clipboard.old_version, clipboard.local) == ("github.com/atotto/clipboard", "v0.1.4", False)
    assert mod.replaces[0].local


def test_kubernetes_staging_modules_map_to_their_published_versions() -> None:
    text = wrapper_go_mod("example.invalid/w", parse_go_mod(KK_GO_MOD), "v1.36.3", sibling_version(
        KUBE_MODULE, "v1.36.3"), [f"{KUBE_MODULE}/cmd/kube-apiserver"])
    assert "module example.invalid/w\n" in text
    assert "go 1.26.0\n" in text
    assert "require k8s.io/kubernetes v1.36.3\n" in text
    for module in ("k8s.io/api", "k8s.io/apiserver", "k8s.io/client-go"):
        assert f"\t{module} => {module} v0.36.3\n" in text
    assert "./staging" not in text
    # not required by k/k itself: nothing to pin, and it would only fail when unpublished
    assert "sample-controller" not in text
    assert ("\tgithub.com/atotto/clipboard v0.1.4 => github.com/tgummerer/clipboard "
            "v0.0.0-20241001131231-d02d263e614e\n") in text
    assert text.endswith("tool k8s.io/kubernetes/cmd/kube-apiserver\n")


def test_etcd_siblings_keep_the_release_version_and_guards_are_dropped() -> None:
    assert sibling_version(ETCD_MODULE, "v3.6.16") == "v3.6.16"
    text = wrapper_go_mod("w", parse_go_mod(ETCD_GO_MOD), "v3.6.16", "v3.6.16", [ETCD_MODULE])
    assert "\tgo.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v3.6.16\n" in text
    assert "\tgo.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 v3.6.16\n" in text
    assert "FORBIDDEN_DEPENDENCY" not in text
    assert "../" not in text


def test_sibling_version_of_kubernetes_keeps_minor_patch_and_prerelease() -> None:
    assert sibling_version(KUBE_MODULE, "v1.34.4") == "v0.34.4"
    assert sibling_version(KUBE_MODULE, "v1.36.0-rc.1") == "v0.36.0-rc.1"


def test_version_flags_stamp_both_version_packages() -> None:
    flags = kube_ldflags("v1.36.3", "", "2026-07-22T18:07:38Z")
    assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=36" in flags
    assert not any("gitCommit" in f for f in flags)  # unknown commit: keep the binary's default


def test_a_failed_go_command_names_the_module_and_shows_the_tail_of_its_output(tmp_path: Path) -> None:
    # a go.mod go cannot parse fails at once, offline, without compiling anything
    (tmp_path / "go.mod").write_text("module example.invalid/broken\n\ngo 1.22\n\nrequire (\n\tno-version\n)\n")
    lines: list[str] = []
    with pytest.raises(EnvironmentProblem) as err:
        _run_go(["go", "build", "."], tmp_path, "example.invalid/broken@v0.0.1", lines.append)
    assert "building example.invalid/broken@v0.0.1 failed" in err.value.message
    assert "go.mod:6:2: usage: require module/path v1.2.3" in err.value.message
    assert "proxy" in err.value.hint
