"""Engine failures are classified from what the real Pulumi CLI (v3.259.0) printed; samples captured from it."""

from __future__ import annotations

import pickle

import pytest

from gcloud.engine.errors import (
    MASK,
    ConcurrentUpdate,
    Diagnostic,
    EngineError,
    EngineFailure,
    EngineMissing,
    MissingPassphrase,
    ProgramFailure,
    ProviderFailure,
    StackNotFound,
    WrongPassphrase,
    classify_failure,
    mask,
    urn_parts,
)
from gcloud.errors import EnvironmentProblem, GovcloudError, InputError

LOCKED = """error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or \
delete the lock file with `pulumi cancel`.
  file:///tmp/eng2/state/.pulumi/locks/organization/govcloud/dept-l/d240f291.json?no_tmp_dir=true: created by \
root@vm (pid 2825) at 2026-11-23T22:12:41Z"""

NO_PASSPHRASE = ("error: could not create secrets manager for new stack: passphrase must be set with "
                 "PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables")

WRONG_PASSPHRASE = "error: getting stack configuration: get stack secrets manager: incorrect passphrase"

PROVIDER_STDOUT = """Updating (dept-f):

 +  pulumi:pulumi:Stack govcloud-dept-f creating (0s)
 +  pulumi-python:dynamic:Resource x creating (0s) error: Exception calling application: cloud refused: quota \
exceeded (request token TOPSECRET-42)
 +  pulumi:pulumi:Stack govcloud-dept-f **creating failed** 1 error
Diagnostics:
  pulumi:pulumi:Stack (govcloud-dept-f):
    error: update failed

  pulumi-python:dynamic:Resource (x):
    error: Exception calling application: cloud refused: quota exceeded (request token TOPSECRET-42)

Resources:
    + 1 created
    2 errored

Duration: 1s
"""

PROGRAM_STDOUT = """Updating (dept-p):

Diagnostics:
  pulumi:pulumi:Stack (govcloud-dept-p):
    error: an unhandled error occurred: python inline source runtime error: bad tenant spec
    Traceback (most recent call last):
    ValueError: bad tenant spec

Resources:

Duration: 1s
"""

URN = "urn:pulumi:dept-f::govcloud::pulumi-python:dynamic:Resource::x"


def test_a_locked_stack_is_a_concurrent_update_naming_the_holder() -> None:
    error = classify_failure("", LOCKED, stack="dept-l", operation="up")
    assert isinstance(error, ConcurrentUpdate)
    assert "pid 2825" in error.message and "root@vm" in error.message
    assert str(error).startswith("dept-l: up: stack dept-l is being updated by another run")
    assert "since 2026-11-23T22:12:41Z" in error.message
    # a user never has to run pulumi: a live holder is waited for, a dead one's lock is cleared by the next run
    assert "pulumi" not in error.hint and error.hint.startswith("wait for the other run to finish")


def test_the_service_backend_conflict_is_a_concurrent_update_too() -> None:
    error = classify_failure("", "error: [409] Conflict: Another update is currently in progress.", stack="t")
    assert isinstance(error, ConcurrentUpdate)


def test_missing_and_wrong_passphrases_are_environment_problems_with_a_fix() -> None:
    missing = classify_failure("", NO_PASSPHRASE, stack="dept-n", operation="select")
    wrong = classify_failure("", WRONG_PASSPHRASE, stack="dept-w", operation="preview")
    assert isinstance(missing, MissingPassphrase) and isinstance(missing, EnvironmentProblem)
    assert "PULUMI_CONFIG_PASSPHRASE" in missing.hint
    assert isinstance(wrong, WrongPassphrase) and isinstance(wrong, EnvironmentProblem)


def test_a_provider_failure_names_the_resource_and_masks_secrets() -> None:
    diagnostics = [Diagnostic(URN, "Exception calling application: cloud refused: quota exceeded "
                                   "(request token TOPSECRET-42)"), Diagnostic("", "update failed")]
    error = classify_failure(PROVIDER_STDOUT, "", stack="dept-f", operation="up", diagnostics=diagnostics,
                     secrets=["TOPSECRET-42"])
    assert isinstance(error, ProviderFailure)
    assert error.resource == URN
    assert error.resource_type == "pulumi-python:dynamic:Resource"
    assert error.message == f"x (pulumi-python:dynamic:Resource): cloud refused: quota exceeded (request token {MASK})"
    assert "TOPSECRET-42" not in str(error) + error.detail


def test_a_provider_failure_is_found_in_the_printed_diagnostics_without_events() -> None:
    error = classify_failure(PROVIDER_STDOUT, "", stack="dept-f", secrets=["TOPSECRET-42"])
    assert isinstance(error, ProviderFailure)
    assert error.resource == "x"
    assert "quota exceeded" in error.message and "TOPSECRET-42" not in error.message


def test_an_exception_in_the_program_is_a_program_failure() -> None:
    diagnostics = [Diagnostic("", "python inline source runtime error: bad tenant spec\nTraceback ...")]
    error = classify_failure(PROGRAM_STDOUT, "", stack="dept-p", diagnostics=diagnostics)
    assert isinstance(error, ProgramFailure)
    assert error.message == "the program failed: bad tenant spec"


def test_other_classes_and_the_generic_fallback() -> None:
    assert isinstance(classify_failure("", "error: no stack named 'dept-zz' found", stack="dept-zz"), StackNotFound)
    missing = classify_failure("", "error: no resource plugin 'pulumi-python' found in the workspace or on your $PATH")
    assert isinstance(missing, EngineMissing) and "bootstrap.sh" in missing.hint
    generic = classify_failure("", "error: something else went wrong\nerror: something else went wrong")
    assert type(generic) is EngineFailure
    assert generic.message == "something else went wrong"
    assert generic.detail == "something else went wrong"  # de-duplicated


def test_engine_errors_are_govcloud_errors_but_never_input_errors() -> None:
    for cls in (ConcurrentUpdate, MissingPassphrase, ProviderFailure, EngineMissing, EngineFailure):
        assert issubclass(cls, GovcloudError) and not issubclass(cls, InputError)


def test_errors_survive_pickling_with_their_fields() -> None:
    error = ProviderFailure("x refused", stack="dept-a", operation="up", resource=URN, resource_type="t", hint="h")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ProviderFailure
    assert (copy.stack, copy.resource, copy.hint, str(copy)) == ("dept-a", URN, "h", str(error))
    missing = pickle.loads(pickle.dumps(MissingPassphrase("none", hint="set it")))
    assert isinstance(missing, EngineError) and missing.hint == "set it"


@pytest.mark.parametrize(("text", "secrets", "expected"), [
    ("token abcdef in abc", ["abc", "abcdef"], f"token {MASK} in {MASK}"),
    ("nothing here", ["", "zzz"], "nothing here"),
])
def test_mask_replaces_longest_secrets_first(text: str, secrets: list[str], expected: str) -> None:
    assert mask(text, secrets) == expected


def test_urn_parts_handles_parents_and_odd_input() -> None:
    assert urn_parts("urn:pulumi:s::p::a:b:C$pulumi-python:dynamic:Resource::net::x") == (
        "pulumi-python:dynamic:Resource", "net::x")
    assert urn_parts("not-a-urn") == ("", "not-a-urn")
