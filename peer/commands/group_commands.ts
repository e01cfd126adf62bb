/**
 * The group commands: create_group, join_group, leave_group, list_requests,
 * accept_request, reject_request, list_groups, list_files.
 */
import { type Command, type Data, type Outcome, said } from "./command.ts";
import { call, objects } from "./_tracker_call.ts";
import { humanSize, str, table } from "./format.ts";

/** The group commands, merged into the command table. */
export const GROUP_COMMANDS: Record<string, Command> = {
  create_group: groupCommand("create_group", "creates a group owned by you", (d, g) => {
    const owner = str(d.owner);
    return said(`created group ${g} (owner ${owner})`, { group: g, owner });
  }),
  join_group: groupCommand("join_group", "asks the group's owner to let you in", (d, g) => {
    const owner = str(d.owner);
    return said(`requested to join ${g} (owner ${owner})`, { group: g, owner });
  }),
  leave_group: {
    params: ["<group_id>"],
    login: true,
    about: "leaves a group (the owner's leaving hands it on; the last member's deletes it)",
    run: async (ctx, [g]) => {
      const d = await call(ctx, "leave_group", { group: g });
      // The trackers withdrew this user's offers in the group: the peer stops serving them too.
      ctx.files?.leftGroup(g!);
      const owner = typeof d.owner === "string" ? d.owner : null;
      const deleted = d.deleted === true;
      const line = deleted
        ? `left ${g}; it had no members left and was deleted`
        : owner !== null
        ? `left ${g} (owner ${owner})`
        : `left ${g}`;
      return said(line, { group: g, owner, deleted });
    },
  },
  list_requests: groupCommand(
    "list_requests",
    "the pending join requests of a group you own",
    (d, g) => {
      const users = Array.isArray(d.requests) ? d.requests.map((u) => String(u)) : [];
      return {
        lines: users.length > 0 ? users : [`no pending requests for ${g}`],
        data: { group: g, requests: users },
      };
    },
  ),
  accept_request: memberCommand(
    "accept_request",
    "lets a user who asked into your group",
    (u, g) => `accepted ${u} into ${g}`,
  ),
  reject_request: memberCommand(
    "reject_request",
    "turns down a user's request to join your group",
    (u, g) => `rejected ${u}'s request to join ${g}`,
  ),
  list_groups: {
    params: [],
    login: true,
    about: "every group, its owner, its size and whether you are in it",
    run: async (ctx) => {
      const d = await call(ctx, "list_groups", {});
      const groups = objects(d.groups).map((g) => ({
        group: str(g.group),
        owner: str(g.owner),
        members: typeof g.members === "number" ? g.members : null,
        member: g.member === true,
        pending: g.pending === true,
      }));
      const lines = groups.length === 0 ? ["no groups"] : table(
        ["GROUP", "OWNER", "MEMBERS", "YOU"],
        groups.map((g) => [
          g.group,
          g.owner,
          String(g.members ?? "?"),
          g.member ? "member" : g.pending ? "pending" : "-",
        ]),
      );
      return { lines, data: { groups } };
    },
  },
  list_files: groupCommand("list_files", "the files shared in a group", (d, g) => {
    const files = objects(d.files).map((f) => ({
      name: str(f.name),
      size: typeof f.size === "number" ? f.size : null,
      sha1: str(f.sha1),
      seeders: typeof f.seeders === "number" ? f.seeders : null,
      partial: typeof f.partial === "number" ? f.partial : null,
    }));
    const lines = files.length === 0 ? [`no files in ${g}`] : table(
      ["NAME", "SIZE", "SHA1", "SEEDERS", "PARTIAL"],
      files.map((f) => [
        f.name,
        f.size === null ? "?" : humanSize(f.size),
        f.sha1,
        String(f.seeders ?? "?"),
        String(f.partial ?? "?"),
      ]),
    );
    return { lines, data: { group: g, files } };
  }),
};

function groupCommand(
  cmd: string,
  about: string,
  show: (d: Data, group: string) => Outcome,
): Command {
  return {
    params: ["<group_id>"],
    login: true,
    about,
    run: async (ctx, [group]) => show(await call(ctx, cmd, { group }), group!),
  };
}

function memberCommand(
  cmd: string,
  about: string,
  done: (user: string, group: string) => string,
): Command {
  return {
    params: ["<group_id>", "<user_id>"],
    login: true,
    about,
    run: async (ctx, [group, user]) => {
      await call(ctx, cmd, { group, user });
      return said(done(user!, group!), { group, user });
    },
  };
}
