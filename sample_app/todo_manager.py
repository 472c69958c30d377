"""An in-memory todo list (the official sample can also use Cosmos DB)."""

import uuid
from dataclasses import dataclass


@dataclass
class TodoItem:
    id: str
    task: str

    @classmethod
    def new(cls, task: str) -> "TodoItem":
        return cls(id=uuid.uuid4().hex[:6], task=task)


class InMemoryTodoManager:
    def __init__(self) -> None:
        self._todos: list[TodoItem] = []

    def add_todo(self, todo: TodoItem) -> None:
        self._todos.append(todo)

    def get_todos(self) -> list[TodoItem]:
        return list(self._todos)


todo_manager = InMemoryTodoManager()
