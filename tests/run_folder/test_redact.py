from copilot_batch.redact import Redactor


def test_secrets_are_masked_in_text_and_nested_data() -> None:
    redactor = Redactor(["sk-live-123456", "sk-live-123456-extended"])
    assert redactor.text("key sk-live-123456-extended!") == "key ***!"
    data = {"a": ["x sk-live-123456 y", 3, None], "sk-live-123456": {"b": "sk-live-123456"}}
    assert redactor.data(data) == {"a": ["x *** y", 3, None], "***": {"b": "***"}}


def test_short_values_are_not_searched_for() -> None:
    assert Redactor(["x", "abc"]).text("x marks abc") == "x marks abc"


def test_environment_tokens_are_secrets() -> None:
    redactor = Redactor.for_run([], environ={"GH_TOKEN": "ghp_abcdef123", "HOME": "/root/home"})
    assert redactor.text("token ghp_abcdef123 in /root/home") == "token *** in /root/home"
