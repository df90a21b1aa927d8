"""Which cloud errors are retried, how often, and what the user reads when a call gives up."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from keystoneauth1 import exceptions as ksa
from kubernetes.client.exceptions import ApiException
from openstack import exceptions as os_exc

from gcloud.providers.retry import ProviderError, describe, is_transient, poll, with_retry


def sdk_error(status: int, message: str = "boom") -> os_exc.HttpException:
    """What openstacksdk raises for an error response: the API's message in `details`."""
    response = requests.Response()
    response.status_code = status
    return os_exc.HttpException(message=f"{status}: Client Error for url: http://127.0.0.1", response=response,
                                details=message)


def kube_error(status: int, message: str) -> ApiException:
    error = ApiException(status=status, reason="Conflict")
    error.body = f'{{"kind":"Status","message":"{message}"}}'
    return error


@pytest.mark.parametrize(("error", "transient"), [
    (sdk_error(503), True), (sdk_error(500), True), (sdk_error(429), True), (sdk_error(502), True),
    (sdk_error(409, "Port is still in use"), True),
    (sdk_error(409, "Conflict occurred attempting to store project - Duplicate entry"), False),
    (sdk_error(409, "Security group rule already exists. Rule id is x."), False),
    (sdk_error(400), False), (sdk_error(403), False), (sdk_error(404), False),
    (ksa.ConnectFailure("refused"), True), (ksa.ConnectTimeout("slow"), True),
    (ConnectionRefusedError(), True), (kube_error(409, "the object has been modified"), True),
    (kube_error(422, "invalid"), False), (ValueError("bug"), False), (ProviderError("done"), False),
])
def test_transient_classification(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_retries_transient_errors_then_succeeds_with_growing_delays() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise sdk_error(503, "Service Unavailable")
        return "ok"

    assert with_retry("create network", flaky, sleep=sleeps.append) == "ok"
    assert len(calls) == 3
    assert len(sleeps) == 2 and 0.4 <= sleeps[0] <= 0.6 and 0.8 <= sleeps[1] <= 1.2


def test_gives_up_after_the_bounded_attempts_with_one_clean_line() -> None:
    sleeps: list[float] = []
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise sdk_error(503, "Service Unavailable")

    with pytest.raises(ProviderError) as caught:
        with_retry("set compute quota", down, attempts=4, sleep=sleeps.append)
    assert len(calls) == 4 and len(sleeps) == 3
    assert str(caught.value) == "set compute quota failed: HTTP 503: Service Unavailable"
    assert isinstance(caught.value.__cause__, os_exc.HttpException)


def test_permanent_errors_are_not_retried() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise sdk_error(403, "Policy doesn't allow identity:create_project")

    with pytest.raises(ProviderError, match="HTTP 403: Policy doesn't allow"):
        with_retry("create project", refused, sleep=lambda _: None)
    assert calls == [1]


def test_kubernetes_errors_are_described_by_their_status_message_not_headers() -> None:
    error = kube_error(422, 'NetworkPolicy.networking.k8s.io \\"x\\" is invalid')
    error.headers = {"Audit-Id": "abc"}
    text = describe("apply NetworkPolicy x", error)
    assert text.startswith("apply NetworkPolicy x failed: HTTP 422: NetworkPolicy.networking.k8s.io")
    assert "Audit-Id" not in text


def test_poll_waits_until_done_and_times_out_with_a_reason() -> None:
    answers = iter([False, False, True])
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    poll("wait", lambda: next(answers), timeout=10, sleep=sleep, clock=lambda: now[0])
    assert now[0] == pytest.approx(1.0)
    with pytest.raises(ProviderError, match="wait for namespace: still not done after 3 s"):
        poll("wait for namespace", lambda: False, timeout=3, sleep=sleep, clock=lambda: now[0])


def test_describe_without_status() -> None:
    error: Any = ksa.ConnectFailure("Unable to establish connection to http://127.0.0.1:5000/v3")
    assert describe("find project", error) == ("find project failed: Unable to establish connection to "
                                               "http://127.0.0.1:5000/v3")


def test_create_or_find_creates_first_and_looks_up_only_on_a_duplicate() -> None:
    from gcloud.providers.openstack import create_or_find

    calls: list[str] = []

    def create() -> str:
        calls.append("create")
        raise sdk_error(409, "Conflict occurred attempting to store group - Duplicate entry found with name x")

    def find() -> str | None:
        calls.append("find")
        return "existing-id"

    assert create_or_find("ensure group x", lambda: calls.append("create") or "new-id", find) == ("new-id", True)
    assert calls == ["create"], "a new name costs one request, no look-up"
    calls.clear()
    assert create_or_find("ensure group x", create, find) == ("existing-id", False)
    assert calls == ["create", "find"], "a duplicate is adopted, and not as govcloud's own"
    with pytest.raises(ProviderError, match="Duplicate entry"):
        create_or_find("ensure group x", create, lambda: None)
    with pytest.raises(ProviderError, match="403"):
        create_or_find("ensure group x", lambda: (_ for _ in ()).throw(sdk_error(403, "forbidden")), find)
