"""A tiny HTML tree (stdlib `html.parser`): dashboard parsing stays pure Python, testable offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


@dataclass(eq=False)  # identity: comparing two subtrees field by field would recurse through them
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)
    parent: Node | None = field(default=None, repr=False)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self) -> Iterator[Node]:
        """This node and every descendant element, in document order (without recursion: a page nested
        thousands of elements deep must not exhaust Python's stack)."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(child for child in reversed(node.children) if isinstance(child, Node))

    def find_all(self, tag: str, cls: str | None = None) -> list[Node]:
        return [
            n for n in self.iter() if n.tag == tag and (cls is None or cls in n.classes) and n is not self
        ]

    def find(self, tag: str, cls: str | None = None) -> Node | None:
        found = self.find_all(tag, cls)
        return found[0] if found else None

    def text(self, separator: str = "") -> str:
        """The text of every descendant, `separator` between the parts of each element (as a recursive
        join would place it), built without recursion."""
        out: list[str] = []
        # Work items: a child to render, or a marker to put `separator` before a later sibling.
        stack: list[Node | str | None] = [*reversed(self._parts())]
        while stack:
            item = stack.pop()
            if item is None:
                out.append(separator)
            elif isinstance(item, str):
                out.append(item)
            else:
                stack.extend(reversed(item._parts()))
        return "".join(out)

    def _parts(self) -> list[Node | str | None]:
        parts: list[Node | str | None] = []
        for i, child in enumerate(self.children):
            if i:
                parts.append(None)
            parts.append(child)
        return parts

    def lines(self) -> list[str]:
        """Visible text split into non-empty lines; block elements and <br> break lines."""
        raw = self.text("\n")
        return [collapse(line) for line in raw.splitlines() if collapse(line)]

    def element_siblings_after(self) -> list[Node]:
        if self.parent is None:
            return []
        siblings = [c for c in self.parent.children if isinstance(c, Node)]
        return siblings[siblings.index(self) + 1 :]


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)
        if tag == "br":
            self.stack[-1].children.append("\n")
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        # Close the nearest open element of this tag (and anything left open inside it); stray end tags
        # are ignored, as browsers do.
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
