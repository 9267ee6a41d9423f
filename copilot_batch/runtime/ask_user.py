"""The ``ask_user`` tool in a batch, where nobody is there to answer: the job file's
``ask_user.answer`` answers every question, and each question is reported.

Without an answer the SDK is given no user-input handler, and the CLI then does not offer
the model the ``ask_user`` tool at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from copilot.session import UserInputHandler, UserInputRequest, UserInputResponse

from ..records import UserQuestion


def answering(answer: str, on_question: Callable[[UserQuestion], None]) -> UserInputHandler:
    """The ``on_user_input_request`` handler that answers ``answer`` to every question.

    The answer counts as one of the offered choices when it is one (the CLI then tells the
    model "User selected: …"), as a free-form answer otherwise.
    """

    def answer_question(
        request: UserInputRequest, _invocation: dict[str, str]
    ) -> UserInputResponse:
        choices = tuple(str(choice) for choice in request.get("choices") or ())
        on_question(
            UserQuestion(datetime.now(UTC), str(request.get("question", "")), choices, answer)
        )
        return {"answer": answer, "wasFreeform": answer not in choices}

    return answer_question
