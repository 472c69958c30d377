"""Skills the assistant can call: functions with an assistantSkillTrigger."""

import json
import logging

import azure.functions as func

from todo_manager import TodoItem, todo_manager

skills = func.Blueprint()


@skills.function_name("AddTodo")
@skills.assistant_skill_trigger(arg_name="taskDescription", function_description="Create a new todo task")
def add_todo(taskDescription: str) -> None:
    if not taskDescription:
        raise ValueError("Task description cannot be empty")
    logging.info("Adding todo: %s", taskDescription)
    todo_manager.add_todo(TodoItem.new(taskDescription))


@skills.function_name("GetTodos")
@skills.assistant_skill_trigger(
    arg_name="inputIgnored", function_description="Fetch the list of previously created todo tasks"
)
def get_todos(inputIgnored: str) -> str:
    logging.info("Fetching list of todos")
    return json.dumps([item.__dict__ for item in todo_manager.get_todos()])
