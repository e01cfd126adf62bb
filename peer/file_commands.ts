/** The shell's file commands: upload_file, stop_share, download_file, show_downloads, wait. */
import { checkId } from "../shared/names.ts";
import type { Command, Ctx } from "./shell.ts";
import type { FileService } from "./file_service.ts";

class CommandError extends Error {}

function files(ctx: Ctx): FileService {
  if (!ctx.files) throw new CommandError("file sharing is not available in this shell");
  return ctx.files;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function group(id: string): string {
  const err = checkId("group", id);
  if (err) throw new CommandError(err);
  return id;
}

/** The file commands, merged into the shell's command table. */
export const FILE_COMMANDS: Record<string, Command> = {
  upload_file: {
    params: ["<file_path>", "<group_id>"],
    login: true,
    noCheck: true,
    run: async (ctx, [a, b]) => {
      // Either order: whichever argument names an existing regular file is the path.
      const [path, g] = (await isFile(a!)) ? [a!, b!] : (await isFile(b!)) ? [b!, a!] : [a!, b!];
      return [await files(ctx).upload(path, group(g))];
    },
  },
  stop_share: {
    params: ["<group_id>", "<file_name>"],
    login: true,
    run: async (ctx, [g, name]) => [await files(ctx).stopShare(g!, name!)],
  },
  download_file: {
    params: ["<group_id>", "<file_name>", "<destination_dir>"],
    optional: 1,
    login: true,
    run: async (ctx, [g, name, dest]) => [await files(ctx).download(g!, name!, dest ?? ".")],
  },
  show_downloads: {
    params: [],
    login: false,
    run: (ctx) => Promise.resolve(files(ctx).showDownloads()),
  },
  wait: {
    params: [],
    login: false,
    run: async (ctx) => {
      const f = files(ctx);
      await f.waitAll(
        ctx.interactive ? () => f.showDownloads().forEach((l) => ctx.output(l)) : undefined,
      );
      return f.showDownloads();
    },
  },
};
