"""Custom tools for the example jobs: any `define_tool` object can be named in a job file."""

from copilot import define_tool
from pydantic import BaseModel, Field


class CountWordsParams(BaseModel):
    text: str = Field(description="The text whose words to count")


@define_tool(description="Count the words in a text, splitting on whitespace")
def count_words(params: CountWordsParams) -> str:
    return str(len(params.text.split()))
