"""Projects → environments → database services, as a keyboard-driven tree."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from dflow_tui.core.views import ServiceView
from dflow_tui.ui.format import service_label


class ServiceTree(Tree[ServiceView | None]):
    """Service nodes carry their `ServiceView`; project and environment nodes carry None."""

    class ServiceHighlighted(Message):
        """The cursor is on a service: show it."""

        def __init__(self, service: ServiceView) -> None:
            self.service = service
            super().__init__()

    class ServiceChosen(Message):
        """Enter on a service: show it and move to its backups."""

        def __init__(self, service: ServiceView) -> None:
            self.service = service
            super().__init__()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("Services", id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 3

    def show_services(self, services: list[ServiceView], keep: str | None = None) -> None:
        """Rebuilds the tree; `keep` (a service path) keeps the cursor on that service."""
        self.clear()
        projects: dict[str, TreeNode] = {}
        environments: dict[tuple[str, str], TreeNode] = {}
        keep_node: TreeNode | None = None
        for service in services:
            project = projects.get(service.project)
            if project is None:
                project = self.root.add(Text(service.project, style="bold"), expand=True)
                projects[service.project] = project
            env_key = (service.project, service.environment)
            environment = environments.get(env_key)
            if environment is None:
                environment = project.add(Text(service.environment), expand=True)
                environments[env_key] = environment
            node = environment.add_leaf(service_label(service), data=service)
            if service.path == keep:
                keep_node = node
        if not services:
            self.root.add_leaf(Text("No services yet", style="italic"))
        if keep_node is not None:
            self.call_after_refresh(self.move_cursor, keep_node)
        else:
            self.call_after_refresh(setattr, self, "cursor_line", 0)

    def go_to(self, path: str) -> bool:
        """Puts the cursor on that service (which shows it); False when it is not listed."""
        stack = list(self.root.children)
        while stack:
            node = stack.pop(0)
            if isinstance(node.data, ServiceView) and node.data.path == path:
                self.move_cursor(node)
                return True
            stack.extend(node.children)
        return False

    def _on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        if isinstance(event.node.data, ServiceView):
            self.post_message(self.ServiceHighlighted(event.node.data))

    def _on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if isinstance(event.node.data, ServiceView):
            self.post_message(self.ServiceChosen(event.node.data))
