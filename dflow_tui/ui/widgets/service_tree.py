"""Projects → environments → database services, as a keyboard-driven tree.

A fleet of thousands of services would make a tree of thousands of lines that takes
seconds to build: past LAZY_ABOVE services, projects start folded and their
environments and services are added when a project is first opened (or when `go_to`
reaches into it). `ServiceFilter`, above the tree, narrows it to the services whose
path holds the text typed after `/`.
"""

from __future__ import annotations

from collections import defaultdict

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from dflow_tui.core.views import ServiceView
from dflow_tui.ui.format import Palette, service_label

LAZY_ABOVE = 300
"""More services than this: projects start folded and fill in when opened."""

Environments = dict[str, list[ServiceView]]


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
        self._projects: dict[str, TreeNode[ServiceView | None]] = {}
        self._folded: dict[int, Environments] = {}  # node id → what it shows once opened
        self.states: dict[str, str] = {}  # service path → its recovery state (the badge)
        self.palette = Palette()

    def show_services(self, services: list[ServiceView], keep: str | None = None) -> None:
        """Rebuilds the tree; `keep` (a service path) keeps the cursor on that service."""
        self.clear()
        self._projects = {}
        self._folded = {}
        grouped: dict[str, Environments] = defaultdict(lambda: defaultdict(list))
        for service in services:
            grouped[service.project][service.environment].append(service)
        lazy = len(services) > LAZY_ABOVE
        for project, environments in grouped.items():
            node = self.root.add(Text(project, style="bold"), expand=not lazy, allow_expand=True)
            self._projects[project] = node
            if lazy:
                self._folded[node.id] = environments
            else:
                self._fill(node, environments)
        if not services:
            self.root.add_leaf(Text("No services yet", style="italic"))
        if keep is None or not self.go_to(keep):
            self.call_after_refresh(setattr, self, "cursor_line", 0)

    def _fill(self, project: TreeNode[ServiceView | None], environments: Environments) -> None:
        for environment, services in environments.items():
            node = project.add(Text(environment), expand=True)
            for service in services:
                node.add_leaf(
                    service_label(service, self.states.get(service.path), self.palette), data=service
                )

    def _unfold(self, node: TreeNode[ServiceView | None]) -> None:
        environments = self._folded.pop(node.id, None)
        if environments is not None:
            self._fill(node, environments)

    def show_states(self, states: dict[str, str], palette: Palette) -> None:
        """Each service's badge: its recovery state (only the nodes drawn change now; a
        folded project's use them when it opens)."""
        self.states, self.palette = states, palette
        for project in self._projects.values():
            for environment in project.children:
                for node in environment.children:
                    if isinstance(node.data, ServiceView):
                        node.set_label(service_label(node.data, states.get(node.data.path), palette))

    def go_to(self, path: str) -> bool:
        """Puts the cursor on that service (which shows it), opening its project if it is
        folded; False when it is not listed."""
        project_name = path.split("/", 1)[0]
        project = self._projects.get(project_name)
        if project is None:
            return False
        self._unfold(project)
        project.expand()
        for environment in project.children:
            for node in environment.children:
                if isinstance(node.data, ServiceView) and node.data.path == path:
                    environment.expand()
                    self.call_after_refresh(self.move_cursor, node)
                    return True
        return False

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[ServiceView | None]) -> None:
        self._unfold(event.node)

    def _on_tree_node_highlighted(self, event: Tree.NodeHighlighted[ServiceView | None]) -> None:
        if isinstance(event.node.data, ServiceView):
            self.post_message(self.ServiceHighlighted(event.node.data))

    def _on_tree_node_selected(self, event: Tree.NodeSelected[ServiceView | None]) -> None:
        if isinstance(event.node.data, ServiceView):
            self.post_message(self.ServiceChosen(event.node.data))


class ServiceFilter(Input):
    """`/` on the main screen: the tree shows only services whose path holds this text.
    Enter goes back to the tree; Escape clears the filter."""

    BINDINGS = [Binding("escape", "clear", "Clear filter")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="Filter services…", id=id)

    def action_clear(self) -> None:
        self.value = ""
        self.display = False
        self.post_message(self.Submitted(self, ""))


def matching(services: list[ServiceView], text: str) -> list[ServiceView]:
    needle = text.strip().lower()
    return [s for s in services if needle in s.path.lower()] if needle else services
