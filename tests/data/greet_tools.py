"""A custom tool module for tests' job files (copied beside the job file they write)."""

from copilot import define_tool
from pydantic import BaseModel


class Name(BaseModel):
    name: str


@define_tool(description="Greet someone by name")
def greet(params: Name) -> str:
    return f"Hello, {params.name}!"
