"""Deterministic generation of an Asana-like data set and its in-memory store.

Every record is kept in its full form, the one `GET /<resource>/{gid}` returns with every opt-in
field requested. Nested references are compact objects (`gid`, `resource_type`, `name`), shared
between records and never mutated in place: mutations replace them.
"""

from __future__ import annotations

import bisect
import functools
import gc
import html
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from .config import ServerConfig

Record = dict[str, Any]

# Generated timestamps fall between these two instants (epoch milliseconds, UTC), so generated
# data does not depend on the clock. Records changed through the admin API get the current time.
DATA_START_MS = 1_672_531_200_000  # 2023-01-01T00:00:00.000Z
DATA_END_MS = 1_717_200_000_000  # 2024-06-01T00:00:00.000Z
DAY_MS = 86_400_000

FIRST_GID = 1_206_000_000_000_001

TASK_NAMES = [
    "Draft the quarterly report",
    "Review pull request for billing",
    "Call the supplier about invoice",
    "Plan the offsite 🏕️",
    "Fix login bug on Safari",
    "Update the onboarding checklist",
    "Prepare slides for Monday",
    "Réviser le budget prévisionnel",
    "更新产品路线图",
    "Проверить договор",
    'Buy "good" coffee for the team ☕',
    "Email O'Neil about the contract",
    "Line one\nline two of a multi-line name",
    "Tabs\tand trailing spaces   ",
    "Ship v2.0 🚀🎉",
    "Back-slash \\ path C:\\temp",
    "",
]
NOTES = [
    "",
    "Short note.",
    "Check the numbers twice.\nThen send them to finance.",
    "Contains <b>markup-like</b> text & ampersands.",
    "Emoji 😀 and accents: naïve café, Zürich, São Paulo.",
    'He said "ship it" and left.',
]
LONG_NOTE_PARAGRAPH = (
    "This paragraph repeats to build a very long description, the kind that meeting minutes "
    "pasted into a task produce. It has unicode (ä, ø, 漢字, 🙂) and punctuation: ;:,.!? "
)
# About 30,000 characters, one shared string.
LONG_NOTE = LONG_NOTE_PARAGRAPH * 200
USER_NAMES = [
    "Greg Sanchez",
    "Zoë Ångström",
    "李雷",
    "Seán O'Brien",
    "Amélie Poulain",
    "Jürgen Müller",
    "Priya Raman",
    "Kwame Mensah",
    "Ана Петрова",
    "Björk Guðmundsdóttir",
    "María José García",
    "Tomás Ó Súilleabháin",
]
TEAM_NAMES = ["Marketing", "Engineering 🛠", "Sales & Success", "Design", "Operations", "Legal"]
PROJECT_NAMES = [
    "Website relaunch",
    "Q3 roadmap",
    "Hiring pipeline",
    "Customer onboarding",
    "Bug triage 🐛",
    "Événements 2024",
    "Infrastructure",
    "Content calendar",
    'Research "north star"',
]
SECTION_NAMES = ["Backlog", "In progress 🚧", "Review", "Done", "Someday / maybe", "Blocked"]
TAG_NAMES = [
    "urgent",
    "waiting-on-client",
    "🔥 hot",
    "Q3",
    "nice to have",
    'needs "review"',
    "bug",
    "design",
    "légal",
]
PROJECT_COLORS = ["dark-pink", "dark-green", "dark-blue", "light-green", "light-orange", "none"]
TAG_COLORS = ["dark-red", "light-blue", "light-purple", "dark-teal", None]
PROJECT_ICONS = ["list", "board", "rocket", "bug", "globe", "target", None]
ENUM_COLORS = ["blue", "green", "red", "yellow", "orange", "purple"]
FIELD_TEXTS = ["Globex", "Initech ✨", 'Umbrella "Corp"', "Stark\nIndustries"]
COMMENTS = [
    "Looks good to me 👍",
    "Can we move this to next week?",
    'Attached the "final" version.\nPlease check section 2.',
    "Je m'en occupe.",
    "完成了",
    "",
]


_DAY_PREFIXES: dict[int, str] = {}


# Tasks without external data share this value; nothing mutates it.
EMPTY_EXTERNAL: Record = {"gid": "", "data": ""}
STORY_SOURCES = ["web", "web", "mobile", "email", "api"]
_STORY_TEMPLATE: Record = {
    "gid": "",
    "resource_type": "story",
    "created_at": "",
    "created_by": None,
    "resource_subtype": "comment_added",
    "text": "",
    "html_text": "",
    "type": "comment",
    "is_pinned": False,
    "is_editable": False,
    "is_edited": False,
    "hearted": False,
    "hearts": [],
    "num_hearts": 0,
    "liked": False,
    "likes": [],
    "num_likes": 0,
    "reaction_summary": [],
    "previews": [],
    "source": "web",
    "target": None,
}


@functools.lru_cache(maxsize=4096)
def _html_body(text: str) -> str:
    return f"<body>{html.escape(text, quote=False)}</body>"


def format_timestamp(ms: int) -> str:
    """Format epoch milliseconds as Asana does: `2024-05-24T19:50:18.053Z`."""
    day, rest = divmod(ms, DAY_MS)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400))
        _DAY_PREFIXES[day] = prefix
    seconds, millis = divmod(rest, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def format_date(ms: int) -> str:
    """Format the UTC date of epoch milliseconds as `YYYY-MM-DD`."""
    return format_timestamp(ms)[:10]


def between(rng: random.Random, low: int, high: int) -> int:
    """Draw an integer in [low, high); faster than randrange for wide millisecond ranges."""
    return low + int(rng.random() * (high - low))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def compact(record: Record) -> Record:
    """Return the compact reference form of a record (`gid`, `resource_type`, `name`)."""
    return {"gid": record["gid"], "resource_type": record["resource_type"], "name": record["name"]}


SNAPSHOT_TABLES = (
    "workspaces",
    "users",
    "teams",
    "projects",
    "sections",
    "tags",
    "tasks",
    "stories",
)


class Store:
    """The data set: tables of full records plus indexes from containers to sorted member gids.

    All access goes through `lock`, because the HTTP server reads from many threads while the
    admin API mutates. Collections are ordered by gid, and gids grow in creation order.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.rng = random.Random(config.seed)  # noqa: S311 (test data, not secrets)
        # A separate RNG for admin mutations, so that they are repeatable for a given seed.
        self.mutation_rng = random.Random(config.seed * 7919 + 1)  # noqa: S311
        self._next_gid = FIRST_GID
        self.workspaces: dict[str, Record] = {}
        self.users: dict[str, Record] = {}
        self.teams: dict[str, Record] = {}
        self.projects: dict[str, Record] = {}
        self.sections: dict[str, Record] = {}
        self.tags: dict[str, Record] = {}
        self.tasks: dict[str, Record] = {}
        self.stories: dict[str, Record] = {}
        self.custom_fields: dict[str, Record] = {}
        self.user_task_lists: dict[str, Record] = {}
        # Task modification times in epoch milliseconds, for modified_since filtering.
        self.task_modified_ms: dict[str, int] = {}
        self.task_completed_ms: dict[str, int | None] = {}
        # Container gid -> sorted list of member gids as integers.
        self.project_tasks: dict[str, list[int]] = defaultdict(list)
        self.section_tasks: dict[str, list[int]] = defaultdict(list)
        self.tag_tasks: dict[str, list[int]] = defaultdict(list)
        self.subtasks: dict[str, list[int]] = defaultdict(list)
        self.task_stories: dict[str, list[int]] = defaultdict(list)
        # (workspace gid, user gid) -> tasks assigned to the user in that workspace.
        self.assigned_tasks: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.workspace_users: dict[str, list[int]] = defaultdict(list)
        self.workspace_teams: dict[str, list[int]] = defaultdict(list)
        self.workspace_projects: dict[str, list[int]] = defaultdict(list)
        self.team_projects: dict[str, list[int]] = defaultdict(list)
        self.project_sections: dict[str, list[int]] = defaultdict(list)
        self.workspace_tags: dict[str, list[int]] = defaultdict(list)
        # Workspace gid -> custom field definitions and users, for generating tasks.
        self._workspace_fields: dict[str, list[Record]] = defaultdict(list)
        self._project_fields: dict[str, list[Record]] = {}
        self._definition_views: dict[str, Record] = {}
        self._references: dict[str, Record] = {}
        self._field_values: dict[tuple[str, tuple[Any, ...]], Record] = {}
        # Generation allocates millions of objects that all stay alive. Pausing the cyclic
        # garbage collector meanwhile saves it from scanning them again and again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._generate()
        finally:
            if collecting:
                gc.enable()

    # ----------------------------------------------------------------------------------------
    # Generation

    def ref(self, record: Record) -> Record:
        """Return the shared compact reference to a record that is never renamed (not a task)."""
        reference = self._references.get(record["gid"])
        if reference is None:
            reference = compact(record)
            self._references[record["gid"]] = reference
        return reference

    def new_gid(self) -> str:
        gid = str(self._next_gid)
        self._next_gid += 1
        return gid

    def _generate(self) -> None:
        cfg = self.config
        org = self._make_workspace(cfg.workspace_gid, "Acme Corp 🏢", organization=True)
        plain = self._make_workspace(
            cfg.plain_workspace_gid, "Personal projects", organization=False
        )
        self.organization_gid = org["gid"]
        self.plain_workspace_gid = plain["gid"]

        for index in range(cfg.users):
            # Every user is in the organization. Every second one, starting with the first user
            # (the token owner), is also in the plain workspace.
            workspaces = [org] if index % 2 == 1 else [org, plain]
            self._make_user(index, workspaces)
        self.me_gid = next(iter(self.users))

        for index in range(cfg.teams):
            self._make_team(index, org)

        for workspace in (org, plain):
            self._make_custom_fields(workspace)
            self._make_user_task_lists(workspace)
            for index in range(cfg.tags):
                self._make_tag(index, workspace)

        for index in range(cfg.projects):
            # One project in four lives in the plain workspace.
            workspace = plain if index % 4 == 3 else org
            self._make_project(index, workspace)

        for project_gid in list(self.projects):
            self._make_project_tasks(project_gid)

    def _make_workspace(self, gid: str | None, name: str, organization: bool) -> Record:
        record: Record = {
            "gid": gid if gid is not None else self.new_gid(),
            "resource_type": "workspace",
            "name": name,
            "email_domains": ["acme.example.com"] if organization else [],
            "is_organization": organization,
        }
        self.workspaces[record["gid"]] = record
        return record

    def _make_user(self, index: int, workspaces: list[Record]) -> None:
        rng = self.rng
        base_name = USER_NAMES[index % len(USER_NAMES)]
        name = (
            base_name if index < len(USER_NAMES) else f"{base_name} {index // len(USER_NAMES) + 1}"
        )
        gid = self.new_gid()
        photo = None
        if rng.random() < 0.6:
            photo = {
                f"image_{size}x{size}": f"https://s3.example.com/profiles/{gid}_{size}x{size}.png"
                for size in (21, 27, 36, 60, 128, 1024)
            }
        record = {
            "gid": gid,
            "resource_type": "user",
            "name": name,
            "email": f"user{index}@acme.example.com",
            "photo": photo,
            "workspaces": [self.ref(w) for w in workspaces],
            "custom_fields": [],
        }
        self.users[gid] = record
        for workspace in workspaces:
            self.workspace_users[workspace["gid"]].append(int(gid))

    def _make_team(self, index: int, org: Record) -> None:
        rng = self.rng
        gid = self.new_gid()
        name = TEAM_NAMES[index % len(TEAM_NAMES)]
        description = "" if index % 3 == 2 else f"The {name} team.\nAsk in #{name.lower()[:6]}."
        record = {
            "gid": gid,
            "resource_type": "team",
            "name": name,
            "description": description,
            "html_description": f"<body>{html.escape(description, quote=False)}</body>",
            "organization": self.ref(org),
            "permalink_url": f"https://app.asana.com/0/team/{gid}",
            "visibility": rng.choice(["secret", "request_to_join", "public"]),
            "edit_team_name_or_description_access_level": "all_team_members",
            "edit_team_visibility_or_trash_team_access_level": "only_team_admins",
            "member_invite_management_access_level": "all_team_members",
            "guest_invite_management_access_level": "only_team_admins",
            "join_request_management_access_level": "all_team_members",
            "team_member_removal_access_level": "only_team_admins",
            "team_content_management_access_level": "no_restriction",
            "endorsed": index == 0,
            "custom_field_settings": [],
        }
        self.teams[gid] = record
        self.workspace_teams[org["gid"]].append(int(gid))

    def _make_custom_fields(self, workspace: Record) -> None:
        """Define one custom field of each value type in the workspace."""
        user = self.users[self.me_gid]
        for field_type, name in (
            ("text", "Customer"),
            ("number", "Estimate (h)"),
            ("enum", "Priority"),
            ("multi_enum", "Platforms"),
            ("date", "Launch date"),
            ("people", "Reviewers"),
        ):
            gid = self.new_gid()
            options: list[Record] = []
            if field_type in ("enum", "multi_enum"):
                labels = (
                    ["Low", "Medium", "High 🔥"]
                    if field_type == "enum"
                    else ["iOS", "Android", "Web", "Desktop"]
                )
                for position, label in enumerate(labels):
                    options.append(
                        {
                            "gid": self.new_gid(),
                            "resource_type": "enum_option",
                            "name": label,
                            "enabled": True,
                            "color": ENUM_COLORS[position % len(ENUM_COLORS)],
                        }
                    )
            definition = {
                "gid": gid,
                "resource_type": "custom_field",
                "name": name,
                "type": field_type,
                "resource_subtype": field_type,
                "representation_type": field_type,
                "enum_options": options,
                "enabled": True,
                "is_formula_field": False,
                "is_value_read_only": False,
                "precision": 1 if field_type == "number" else 0,
                "format": "none",
                "currency_code": None,
                "custom_label": None,
                "custom_label_position": None,
                "is_global_to_workspace": True,
                "has_notifications_enabled": False,
                "asana_created_field": None,
                "id_prefix": None,
                "input_restrictions": ["task"],
                "privacy_setting": "public",
                "default_access_level": "editor",
                "created_by": self.ref(user),
                "description": f"{name} of the work item.",
            }
            self.custom_fields[gid] = definition
            self._workspace_fields[workspace["gid"]].append(definition)

    def _make_user_task_lists(self, workspace: Record) -> None:
        for user_gid in self.workspace_users[workspace["gid"]]:
            gid = self.new_gid()
            user = self.users[str(user_gid)]
            self.user_task_lists[gid] = {
                "gid": gid,
                "resource_type": "user_task_list",
                "name": "My Tasks",
                "owner": {"gid": user["gid"], "resource_type": "user", "name": user["name"]},
                "workspace": self.ref(workspace),
            }

    def user_task_list_for(self, user_gid: str, workspace_gid: str) -> Record | None:
        for record in self.user_task_lists.values():
            if record["owner"]["gid"] == user_gid and record["workspace"]["gid"] == workspace_gid:
                return record
        return None

    def _make_tag(self, index: int, workspace: Record) -> None:
        rng = self.rng
        gid = self.new_gid()
        users = self.workspace_users[workspace["gid"]]
        created = between(rng, DATA_START_MS, DATA_START_MS + 30 * DAY_MS)
        record = {
            "gid": gid,
            "resource_type": "tag",
            "name": TAG_NAMES[index % len(TAG_NAMES)],
            "color": TAG_COLORS[index % len(TAG_COLORS)],
            "notes": "" if index % 2 else "Used for triage.",
            "created_at": format_timestamp(created),
            "followers": [self.ref(self.users[str(u)]) for u in users[: index % 3]],
            "workspace": self.ref(workspace),
            "permalink_url": f"https://app.asana.com/0/{gid}/list",
        }
        self.tags[gid] = record
        self.workspace_tags[workspace["gid"]].append(int(gid))

    def _make_project(self, index: int, workspace: Record) -> None:
        rng = self.rng
        cfg = self.config
        gid = self.new_gid()
        ws_gid = workspace["gid"]
        users = [self.users[str(u)] for u in self.workspace_users[ws_gid]]
        owner = users[index % len(users)]
        created = between(rng, DATA_START_MS, DATA_START_MS + 60 * DAY_MS)
        modified = between(rng, created, DATA_END_MS)
        archived = index % 5 == 4
        completed = archived and index % 2 == 0
        notes = NOTES[index % len(NOTES)]
        due_on = format_date(modified + 30 * DAY_MS) if index % 3 == 0 else None
        members = [self.ref(u) for u in users[: 1 + index % len(users)]]
        # Every second project uses all the workspace's custom fields, and the others use none.
        fields = self._workspace_fields[ws_gid] if index % 2 == 0 else []
        self._project_fields[gid] = fields
        record: Record = {
            "gid": gid,
            "resource_type": "project",
            "name": PROJECT_NAMES[index % len(PROJECT_NAMES)]
            + ("" if index < len(PROJECT_NAMES) else f" {index // len(PROJECT_NAMES) + 1}"),
            "archived": archived,
            "color": PROJECT_COLORS[index % len(PROJECT_COLORS)] if index % 7 != 6 else None,
            "icon": PROJECT_ICONS[index % len(PROJECT_ICONS)],
            "created_at": format_timestamp(created),
            "current_status": None,
            "current_status_update": None,
            "custom_field_settings": [],
            "default_view": ["list", "board", "calendar", "timeline"][index % 4],
            "due_date": due_on,
            "due_on": due_on,
            "html_notes": f"<body>{html.escape(notes, quote=False)}</body>",
            "members": members,
            "modified_at": format_timestamp(modified),
            "notes": notes,
            "public": index % 3 != 1,
            "privacy_setting": "public_to_workspace" if index % 3 != 1 else "private",
            "start_on": format_date(created) if due_on and index % 2 == 0 else None,
            "default_access_level": "editor",
            "minimum_access_level_for_customization": "admin",
            "minimum_access_level_for_sharing": "editor",
            "custom_fields": [],
            "completed": completed,
            "completed_at": format_timestamp(modified) if completed else None,
            "completed_by": self.ref(owner) if completed else None,
            "followers": [self.ref(owner)],
            "owner": self.ref(owner) if index % 6 != 5 else None,
            "permalink_url": f"https://app.asana.com/0/{gid}/{gid}",
            "project_brief": None,
            "created_from_template": None,
            "workspace": self.ref(workspace),
        }
        self._add_project_status(record, index, owner, created, modified)
        self._add_field_settings(record, fields)
        if workspace["is_organization"]:
            # Projects in a plain workspace have no team, so the key is absent there.
            team_gids = self.workspace_teams[ws_gid]
            if team_gids:
                team = self.teams[str(team_gids[index % len(team_gids)])]
                record["team"] = self.ref(team)
                self.team_projects[team["gid"]].append(int(gid))
        self.projects[gid] = record
        self.workspace_projects[ws_gid].append(int(gid))
        section_count = cfg.sections_per_project
        for position in range(section_count):
            self._make_section(record, position, created)

    def _add_project_status(
        self, record: Record, index: int, owner: Record, created: int, modified: int
    ) -> None:
        """Give some projects a status, a brief or a template. The others keep nulls."""
        rng = self.rng
        if index % 4 == 1:
            status_ms = between(rng, created, modified + 1)
            record["current_status"] = {
                "gid": self.new_gid(),
                "resource_type": "project_status",
                "title": "Status update",
                "text": "On track.",
                "html_text": "<body>On track.</body>",
                "color": "green",
                "author": self.ref(owner),
                "created_at": format_timestamp(status_ms),
                "created_by": self.ref(owner),
                "modified_at": format_timestamp(status_ms),
            }
            record["current_status_update"] = {
                "gid": self.new_gid(),
                "resource_type": "status_update",
                "title": "Status update",
                "resource_subtype": "project_status_update",
            }
        if index % 5 == 0:
            record["project_brief"] = {"gid": self.new_gid(), "resource_type": "project_brief"}
        if index % 6 == 2:
            record["created_from_template"] = {
                "gid": self.new_gid(),
                "resource_type": "project_template",
                "name": "Sprint plan",
            }

    def _add_field_settings(self, record: Record, fields: list[Record]) -> None:
        """Attach custom field definitions to a project, as settings and as `custom_fields`."""
        for important, definition in enumerate(fields):
            record["custom_field_settings"].append(
                {
                    "gid": self.new_gid(),
                    "resource_type": "custom_field_setting",
                    "project": self.ref(record),
                    "parent": self.ref(record),
                    "is_important": important < 2,
                    "custom_field": self._field_definition_view(definition),
                }
            )
            record["custom_fields"].append(self._field_definition_view(definition))

    def _field_definition_view(self, definition: Record) -> Record:
        """Return a new copy of a custom field definition as records embed it."""
        view = self._definition_views.get(definition["gid"])
        if view is None:
            view = {k: v for k, v in definition.items() if k != "description"}
            self._definition_views[definition["gid"]] = view
        return dict(view)

    def _make_section(self, project: Record, position: int, created_ms: int) -> Record:
        gid = self.new_gid()
        name = SECTION_NAMES[position % len(SECTION_NAMES)]
        if position == 0 and self.rng.random() < 0.3:
            name = "Untitled section"
        record = {
            "gid": gid,
            "resource_type": "section",
            "name": name,
            "created_at": format_timestamp(created_ms + position * 1000),
            "project": self.ref(project),
            "projects": [self.ref(project)],
        }
        self.sections[gid] = record
        self.project_sections[project["gid"]].append(int(gid))
        return record

    def _make_project_tasks(self, project_gid: str) -> None:
        cfg = self.config
        project = self.projects[project_gid]
        ws_gid = project["workspace"]["gid"]
        siblings = [str(g) for g in self.workspace_projects[ws_gid] if str(g) != project_gid]
        created_here: list[str] = []
        for _ in range(cfg.tasks_per_project):
            task = self._make_task(project, created_here, siblings)
            created_here.append(task["gid"])

    def _make_task(
        self,
        project: Record,
        earlier: list[str],
        sibling_projects: list[str],
        created_ms: int | None = None,
    ) -> Record:
        """Create one task in `project` (or, sometimes, as a subtask in no project)."""
        rng = self.rng if created_ms is None else self.mutation_rng
        ws_gid = project["workspace"]["gid"]
        workspace = self.workspaces[ws_gid]
        users = self.workspace_users[ws_gid]
        gid = self.new_gid()
        serial = int(gid) - FIRST_GID

        if created_ms is None:
            created = between(rng, DATA_START_MS, DATA_END_MS - DAY_MS)
            modified = between(rng, created, DATA_END_MS)
        else:
            created = modified = created_ms

        parent: Record | None = None
        in_project = True
        if earlier and rng.random() < 0.12:
            candidate = self.tasks.get(rng.choice(earlier))
            if candidate is not None and self._depth(candidate) < 4:
                parent = candidate
                # Half of all subtasks are in no project, because subtasks do not inherit the
                # projects of their parent.
                in_project = rng.random() < 0.5

        projects = [project] if in_project else []
        if in_project and sibling_projects and rng.random() < 0.12:
            projects.append(self.projects[rng.choice(sibling_projects)])

        subtype_roll = rng.random()
        if subtype_roll < 0.05:
            subtype = "milestone"
        elif subtype_roll < 0.08:
            subtype = "approval"
        else:
            subtype = "default_task"

        name = TASK_NAMES[serial % len(TASK_NAMES)]
        if serial % len(TASK_NAMES) != len(TASK_NAMES) - 1:
            name = f"{name} #{serial}"
        if serial % 50 == 7:
            notes = LONG_NOTE
        else:
            notes = NOTES[serial % len(NOTES)]

        assignee = None if rng.random() < 0.25 else self.users[str(rng.choice(users))]
        creator = self.users[str(rng.choice(users))]
        completed = rng.random() < 0.3
        completed_at = between(rng, created, modified + 1) if completed else None

        due_on = due_at = start_on = start_at = None
        due_roll = rng.random()
        if due_roll < 0.4:
            due_day = created + between(rng, 1, 60) * DAY_MS
            due_on = format_date(due_day)
            if rng.random() < 0.3:
                start_on = format_date(due_day - 3 * DAY_MS)
        elif due_roll < 0.6:
            due_ms = created + between(rng, 1, 60 * 24) * 3_600_000
            due_at = format_timestamp(due_ms)
            if rng.random() < 0.3:
                start_at = format_timestamp(due_ms - 2 * 3_600_000)

        memberships = []
        for member_project in projects:
            section_gids = self.project_sections[member_project["gid"]]
            section = self.sections[str(section_gids[serial % len(section_gids)])]
            memberships.append({"project": self.ref(member_project), "section": self.ref(section)})

        tag_count = rng.choice([0, 0, 1, 2])
        ws_tags = self.workspace_tags[ws_gid]
        tags = [self.tags[str(t)] for t in rng.sample(ws_tags, min(tag_count, len(ws_tags)))]

        followers = []
        if assignee is not None:
            followers.append(self.ref(assignee))
        if rng.random() < 0.5 and (assignee is None or creator["gid"] != assignee["gid"]):
            followers.append(self.ref(creator))

        likes = []
        if rng.random() < 0.15:
            liker = self.users[str(rng.choice(users))]
            likes.append({"gid": self.new_gid(), "user": self.ref(liker)})

        custom_fields: list[Record] = []
        seen_fields: set[str] = set()
        for member_project in projects:
            for definition in self._project_fields.get(member_project["gid"], []):
                if definition["gid"] not in seen_fields:
                    seen_fields.add(definition["gid"])
                    custom_fields.append(self._field_value(definition, users, rng))

        dependencies: list[Record] = []
        if earlier and in_project and rng.random() < 0.05:
            blocker = self.tasks.get(rng.choice(earlier))
            if blocker is not None:
                dependencies.append({"gid": blocker["gid"], "resource_type": "task"})
                blocker["dependents"] = [
                    *blocker["dependents"],
                    {"gid": gid, "resource_type": "task"},
                ]

        record: Record = {
            "gid": gid,
            "resource_type": "task",
            "name": name,
            "resource_subtype": subtype,
            "created_by": {"gid": creator["gid"], "resource_type": "user"},
            "approval_status": rng.choice(["pending", "approved", "rejected", "changes_requested"])
            if subtype == "approval"
            else "pending",
            "assignee_status": "upcoming" if assignee is not None else "inbox",
            "assigned_by": self.ref(creator) if assignee is not None else None,
            "completed": completed,
            "completed_at": format_timestamp(completed_at) if completed_at is not None else None,
            "completed_by": self.ref(assignee or creator) if completed else None,
            "created_at": format_timestamp(created),
            "dependencies": dependencies,
            "dependents": [],
            "due_at": due_at,
            "due_on": due_on,
            "external": {"gid": f"ext-{serial}", "data": f'{{"row": {serial}}}'}
            if serial % 10 == 3
            else EMPTY_EXTERNAL,
            "html_notes": _html_body(notes),
            "hearted": bool(likes),
            "hearts": likes,
            "is_rendered_as_separator": False,
            "liked": bool(likes),
            "likes": likes,
            "memberships": memberships,
            "modified_at": format_timestamp(modified),
            "notes": notes,
            "num_hearts": len(likes),
            "num_likes": len(likes),
            "num_subtasks": 0,
            "start_at": start_at,
            "start_on": start_on,
            "actual_time_minutes": round(rng.random() * 600, 1) if rng.random() < 0.1 else None,
            "assignee": self.ref(assignee) if assignee is not None else None,
            "assignee_section": None,
            "custom_fields": custom_fields,
            "custom_type": None,
            "custom_type_status_option": None,
            "followers": followers,
            "parent": None,
            "projects": [self.ref(p) for p in projects],
            "tags": [self.ref(t) for t in tags],
            "workspace": self.ref(workspace),
            "permalink_url": f"https://app.asana.com/1/{ws_gid}/task/{gid}",
        }
        if parent is not None:
            record["parent"] = {
                "gid": parent["gid"],
                "resource_type": "task",
                "name": parent["name"],
                "resource_subtype": parent["resource_subtype"],
            }
            parent["num_subtasks"] += 1
            self.subtasks[parent["gid"]].append(int(gid))
        self._index_task(record, modified, completed_at)
        self._make_stories(
            record, created, modified, rng, users, at_creation=created_ms is not None
        )
        return record

    def _depth(self, task: Record) -> int:
        depth = 0
        while task["parent"] is not None and depth < 10:
            task = self.tasks[task["parent"]["gid"]]
            depth += 1
        return depth

    def _field_value(self, definition: Record, users: list[int], rng: random.Random) -> Record:
        """Return a task's value of a custom field, empty in about one case in five.

        Equal values are one shared object: with 100,000 tasks, copies of these 30-key records
        would take most of the memory. Nothing mutates them in place.
        """
        gid = definition["gid"]
        field_type = definition["type"]
        options = definition["enum_options"]
        if rng.random() < 0.2:
            key: tuple[Any, ...] = ()
        elif field_type == "text":
            key = (rng.choice(FIELD_TEXTS),)
        elif field_type == "number":
            key = (rng.randrange(1000) / 10,)
        elif field_type == "enum":
            key = (rng.randrange(len(options)),)
        elif field_type == "multi_enum":
            key = tuple(sorted(rng.sample(range(len(options)), rng.randrange(1, 3))))
        elif field_type == "date":
            # Whole days, and for some values a time at a full hour of that day.
            day = between(rng, DATA_START_MS // DAY_MS, DATA_END_MS // DAY_MS)
            key = (day, rng.choice([None, None, 9, 14]))
        else:
            key = tuple(sorted(rng.sample(range(len(users)), min(2, len(users)))))
        cache_key = (gid, key)
        value = self._field_values.get(cache_key)
        if value is None:
            value = self._build_field_value(definition, key, users)
            self._field_values[cache_key] = value
        return value

    def _build_field_value(
        self, definition: Record, key: tuple[Any, ...], users: list[int]
    ) -> Record:
        value = self._field_definition_view(definition)
        value.update(
            text_value=None,
            number_value=None,
            enum_value=None,
            multi_enum_values=[],
            date_value=None,
            people_value=[],
            display_value=None,
        )
        if not key:
            return value
        field_type = definition["type"]
        options = definition["enum_options"]
        if field_type == "text":
            value["text_value"] = value["display_value"] = key[0]
        elif field_type == "number":
            value["number_value"] = key[0]
            value["display_value"] = f"{key[0]:.1f}"
        elif field_type == "enum":
            option = options[key[0]]
            value["enum_value"] = option
            value["display_value"] = option["name"]
        elif field_type == "multi_enum":
            chosen = [options[i] for i in key]
            value["multi_enum_values"] = chosen
            value["display_value"] = ", ".join(o["name"] for o in chosen)
        elif field_type == "date":
            day, hour = key
            date_value: Record = {"date": format_date(day * DAY_MS)}
            # The spec types date_time as a non-null string, so a date without a time omits it.
            if hour is not None:
                date_value["date_time"] = format_timestamp(day * DAY_MS + hour * 3_600_000)
            value["date_value"] = date_value
            value["display_value"] = date_value["date"]
        else:
            people = [self.ref(self.users[str(users[i])]) for i in key]
            value["people_value"] = people
            value["display_value"] = ", ".join(p["name"] for p in people)
        return value

    def _index_task(self, record: Record, modified_ms: int, completed_ms: int | None) -> None:
        gid = record["gid"]
        key = int(gid)
        self.tasks[gid] = record
        self.task_modified_ms[gid] = modified_ms
        self.task_completed_ms[gid] = completed_ms
        for membership in record["memberships"]:
            bisect.insort(self.project_tasks[membership["project"]["gid"]], key)
            bisect.insort(self.section_tasks[membership["section"]["gid"]], key)
        for tag in record["tags"]:
            bisect.insort(self.tag_tasks[tag["gid"]], key)
        if record["assignee"] is not None:
            bisect.insort(
                self.assigned_tasks[(record["workspace"]["gid"], record["assignee"]["gid"])], key
            )

    def _make_stories(
        self,
        task: Record,
        created_ms: int,
        modified_ms: int,
        rng: random.Random,
        users: list[int],
        at_creation: bool,
    ) -> None:
        per_task = self.config.stories_per_task
        if at_creation or per_task == 0:
            return
        # Vary the count around the configured mean: some tasks get none, some twice as many.
        count = rng.choice([0, per_task, per_task, per_task, 2 * per_task])
        if count == 0:
            return
        times = sorted(between(rng, created_ms, modified_ms + 1) for _ in range(count))
        target = self._story_target(task)
        for story_ms in times:
            self._make_story(task, story_ms, rng, users, comment=rng.random() < 0.5, target=target)

    @staticmethod
    def _story_target(task: Record) -> Record:
        return {
            "gid": task["gid"],
            "resource_type": "task",
            "name": task["name"],
            "resource_subtype": task["resource_subtype"],
        }

    def _make_story(
        self,
        task: Record,
        story_ms: int,
        rng: random.Random,
        users: list[int],
        comment: bool,
        text: str | None = None,
        target: Record | None = None,
    ) -> Record:
        gid = self.new_gid()
        # Copying a template is much faster than building twenty keys one by one. The empty
        # lists it shares are never mutated: selection builds new lists.
        record = dict(_STORY_TEMPLATE)
        record["gid"] = gid
        record["created_at"] = format_timestamp(story_ms)
        record["created_by"] = self.ref(self.users[str(rng.choice(users))])
        record["source"] = rng.choice(STORY_SOURCES)
        record["target"] = target if target is not None else self._story_target(task)
        if comment:
            body = text if text is not None else rng.choice(COMMENTS)
            record["text"] = body
            record["html_text"] = _html_body(body)
            record["is_editable"] = True
            record["is_pinned"] = rng.random() < 0.05
            if rng.random() < 0.1:
                record["reaction_summary"] = [
                    {"emoji_base": "👍", "variant": "👍", "count": 2, "reacted": False}
                ]
            if rng.random() < 0.05:
                record["sticker_name"] = "dancing_unicorn"
        else:
            self._fill_system_story(record, task, rng, users)
        self.stories[gid] = record
        self.task_stories[task["gid"]].append(int(gid))
        return record

    def _fill_system_story(
        self,
        record: Record,
        task: Record,
        rng: random.Random,
        users: list[int],
    ) -> None:
        """Turn a story into a system story of a random subtype with its conditional fields."""
        record["type"] = "system"
        record["is_editable"] = False
        choice = rng.randrange(6)
        if choice == 0 and task["projects"]:
            project = task["projects"][0]
            record.update(
                resource_subtype="added_to_project",
                project=project,
                text=f"added to {project['name']}",
            )
        elif choice == 1:
            user = self.ref(self.users[str(rng.choice(users))])
            record.update(
                resource_subtype="assigned", assignee=user, text=f"assigned to {user['name']}"
            )
        elif choice == 2:
            record.update(
                resource_subtype="due_date_changed",
                text="changed the due date to February 21",
                old_dates={"start_on": None, "due_at": None, "due_on": "2024-02-15"},
                new_dates={"start_on": None, "due_at": None, "due_on": "2024-02-21"},
            )
        elif choice == 3:
            record.update(
                resource_subtype="name_changed",
                old_name="Old name",
                new_name=task["name"],
                text=f'changed the name to "{task["name"]}"',
            )
        elif choice == 4:
            follower = self.ref(self.users[str(rng.choice(users))])
            record.update(
                resource_subtype="added_follower",
                follower=follower,
                text=f"added {follower['name']} as a collaborator",
            )
        else:
            record.update(resource_subtype="marked_complete", text="marked this task complete")
        record["html_text"] = _html_body(record["text"])

    # ----------------------------------------------------------------------------------------
    # Reading

    def task_workspace(self, gid: str) -> str:
        return self.tasks[gid]["workspace"]["gid"]

    # ----------------------------------------------------------------------------------------
    # Mutations (admin API)

    def _pick_tasks(
        self, count: int, gids: Iterable[str] | None, project: str | None, leaf_only: bool = False
    ) -> list[str]:
        if gids is not None:
            chosen = [str(g) for g in gids]
            missing = [g for g in chosen if g not in self.tasks]
            if missing:
                raise KeyError(f"task: Unknown object: {missing[0]}")
            return chosen
        if project is not None:
            if project not in self.projects:
                raise KeyError(f"project: Unknown object: {project}")
            pool = [str(k) for k in self.project_tasks[project] if str(k) in self.tasks]
        else:
            pool = list(self.tasks)
        if leaf_only:
            pool = [g for g in pool if self.tasks[g]["num_subtasks"] == 0]
        count = min(count, len(pool))
        return sorted(self.mutation_rng.sample(pool, count), key=int)

    def touch_tasks(
        self, count: int = 0, gids: Iterable[str] | None = None, project: str | None = None
    ) -> list[str]:
        """Rename tasks and move their `modified_at` to now; return their gids."""
        with self.lock:
            chosen = self._pick_tasks(count, gids, project)
            stamp = now_ms()
            for gid in chosen:
                task = dict(self.tasks[gid])
                base = task["name"].split(" (edited ")[0]
                edits = self.task_modified_ms[gid] // 1000 % 1000
                task["name"] = f"{base} (edited {edits})"
                task["modified_at"] = format_timestamp(stamp)
                self.tasks[gid] = task
                self.task_modified_ms[gid] = stamp
                self._rename_references(task)
            return chosen

    def _rename_references(self, task: Record) -> None:
        """Carry a task's new name into its stories' `target` and its subtasks' `parent`."""
        target = self._story_target(task)
        for story_key in self.task_stories.get(task["gid"], []):
            story = self.stories.get(str(story_key))
            if story is not None:
                self.stories[story["gid"]] = {**story, "target": target}
        for child_key in self.subtasks.get(task["gid"], []):
            child = self.tasks.get(str(child_key))
            if child is not None:
                # A subtask's modified_at stays: a change to its parent does not modify it.
                self.tasks[child["gid"]] = {**child, "parent": dict(target)}

    def add_tasks(self, count: int, project: str | None = None) -> list[str]:
        """Create tasks dated now, in `project` or in random unarchived projects; return gids."""
        with self.lock:
            if project is not None and project not in self.projects:
                raise KeyError(f"project: Unknown object: {project}")
            candidates = (
                [project]
                if project
                else [g for g, p in self.projects.items() if not p["archived"]]
                or list(self.projects)
            )
            if not candidates:
                raise ValueError("there are no projects to add tasks to; start with projects >= 1")
            created = []
            for _ in range(count):
                target = self.projects[self.mutation_rng.choice(candidates)]
                task = self._make_task(target, [], [], created_ms=now_ms())
                created.append(task["gid"])
            return created

    def delete_tasks(
        self, count: int = 0, gids: Iterable[str] | None = None, project: str | None = None
    ) -> list[str]:
        """Delete tasks with their subtasks and stories; return the gids picked or given.

        A random pick takes only tasks without subtasks.
        """
        with self.lock:
            chosen = self._pick_tasks(count, gids, project, leaf_only=gids is None)
            for gid in chosen:
                # A subtask listed after its parent went with the parent already.
                if gid in self.tasks:
                    self._delete_task(gid)
            return chosen

    def _delete_task(self, gid: str) -> None:
        task = self.tasks.pop(gid)
        key = int(gid)
        for child in list(self.subtasks.get(gid, [])):
            if str(child) in self.tasks:
                self._delete_task(str(child))
        self.subtasks.pop(gid, None)
        self._remove_key(
            self.project_tasks, [m["project"]["gid"] for m in task["memberships"]], key
        )
        self._remove_key(
            self.section_tasks, [m["section"]["gid"] for m in task["memberships"]], key
        )
        self._remove_key(self.tag_tasks, [t["gid"] for t in task["tags"]], key)
        if task["assignee"] is not None:
            self._remove_key(
                self.assigned_tasks, [(task["workspace"]["gid"], task["assignee"]["gid"])], key
            )
        if task["parent"] is not None and task["parent"]["gid"] in self.tasks:
            parent = dict(self.tasks[task["parent"]["gid"]])
            parent["num_subtasks"] -= 1
            self.tasks[parent["gid"]] = parent
            self._remove_key(self.subtasks, [parent["gid"]], key)
        for other_gid in [d["gid"] for d in task["dependencies"] + task["dependents"]]:
            other = self.tasks.get(other_gid)
            if other is not None:
                other = dict(other)
                other["dependencies"] = [d for d in other["dependencies"] if d["gid"] != gid]
                other["dependents"] = [d for d in other["dependents"] if d["gid"] != gid]
                self.tasks[other_gid] = other
        for story_key in self.task_stories.pop(gid, []):
            self.stories.pop(str(story_key), None)
        self.task_modified_ms.pop(gid, None)
        self.task_completed_ms.pop(gid, None)

    def delete_projects(self, gids: Iterable[str]) -> list[str]:
        """Delete projects with their sections, as Asana does; return the gids.

        A task in no other project is deleted with its subtasks and stories. A task in
        other projects too only loses its membership in the deleted one.
        """
        chosen = [str(g) for g in gids]
        with self.lock:
            missing = [g for g in chosen if g not in self.projects]
            if missing:
                raise KeyError(f"project: Unknown object: {missing[0]}")
            for gid in chosen:
                self._delete_project(gid)
            return chosen

    def _delete_project(self, gid: str) -> None:
        key = int(gid)
        section_gids = {str(section) for section in self.project_sections.pop(gid, [])}
        for task_key in list(self.project_tasks.pop(gid, [])):
            task = self.tasks.get(str(task_key))
            if task is None:
                continue
            if all(project["gid"] == gid for project in task["projects"]):
                self._delete_task(task["gid"])
                continue
            changed = dict(task)
            changed["projects"] = [p for p in task["projects"] if p["gid"] != gid]
            changed["memberships"] = [m for m in task["memberships"] if m["project"]["gid"] != gid]
            self.tasks[task["gid"]] = changed
        for section_gid in section_gids:
            self.sections.pop(section_gid, None)
            self.section_tasks.pop(section_gid, None)
        project = self.projects.pop(gid)
        self._remove_key(self.workspace_projects, [project["workspace"]["gid"]], key)
        if project.get("team"):
            self._remove_key(self.team_projects, [project["team"]["gid"]], key)

    @staticmethod
    def _remove_key(index: dict[Any, list[int]], containers: list[Any], key: int) -> None:
        for container in containers:
            keys = index.get(container)
            if keys is None:
                continue
            position = bisect.bisect_left(keys, key)
            if position < len(keys) and keys[position] == key:
                del keys[position]

    def add_stories(
        self, count: int = 0, gids: Iterable[str] | None = None, project: str | None = None
    ) -> list[str]:
        """Add a comment to tasks, moving their `modified_at` to now; return the story gids."""
        with self.lock:
            chosen = self._pick_tasks(count, gids, project)
            stamp = now_ms()
            created = []
            for gid in chosen:
                task = dict(self.tasks[gid])
                users = self.workspace_users[task["workspace"]["gid"]]
                story = self._make_story(
                    task,
                    stamp,
                    self.mutation_rng,
                    users,
                    comment=True,
                    text=f"Comment added at {format_timestamp(stamp)}",
                )
                task["modified_at"] = format_timestamp(stamp)
                self.tasks[gid] = task
                self.task_modified_ms[gid] = stamp
                created.append(story["gid"])
            return created

    # ----------------------------------------------------------------------------------------
    # Ground truth

    def snapshot(self, tables: Iterable[str] | None = None) -> dict[str, list[Record]]:
        """Return the full records of `tables` (default: all eight), as object routes return
        them with all fields."""
        names = SNAPSHOT_TABLES if tables is None else list(tables)
        unknown = sorted(set(names) - set(SNAPSHOT_TABLES))
        if unknown:
            raise ValueError(
                f"unknown table(s) {', '.join(unknown)}; known: {', '.join(SNAPSHOT_TABLES)}"
            )
        with self.lock:
            return {name: list(getattr(self, name).values()) for name in names}
