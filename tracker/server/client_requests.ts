/**
 * A client's request on the primary: a read is answered from the committed
 * state, a write is proposed, appended and answered once committed (a retry
 * with the same request id gets the first answer). Any other tracker role
 * answers `not_primary` (with where the primary is) or `unavailable`.
 */
import type { Message } from "../../shared/frame.ts";
import { formatEndpoint } from "../../shared/tracker_info.ts";
import { propose, query, READ_COMMANDS, type Request } from "../state/commands.ts";
import type { Result } from "../state/ops.ts";
import type { RequestContext, RequestHandler } from "../replication/node.ts";
import { NotPrimary } from "../replication/replica.ts";
import { BadPubkey, IdentityIssuer } from "./identity.ts";
import { BadPassword, GrantSigner, parseRequest, prepareEnv, replyTo } from "./requests.ts";

/** Answers client requests on one tracker (the node's {@linkcode RequestHandler}). */
export class ClientRequests implements RequestHandler {
  readonly #ctx: RequestContext;
  readonly #signer = new GrantSigner();
  readonly #identities: IdentityIssuer;

  constructor(ctx: RequestContext) {
    this.#ctx = ctx;
    this.#identities = new IdentityIssuer(ctx.ca);
  }

  /** Answers one client request message (`{t:"req", id, cmd, args, token}`). */
  async handle(msg: Message): Promise<Message> {
    const parsed = parseRequest(msg);
    if ("refuse" in parsed) return parsed.refuse;
    const { id, req } = parsed;
    if (this.#ctx.role() !== "primary") return this.#notPrimary(id);
    const replica = this.#ctx.replica;
    try {
      let r: Result;
      if (READ_COMMANDS.has(req.cmd)) {
        await replica.commit(replica.state.index);
        r = query(replica.state, req, this.#ctx.live);
      } else {
        r = await this.#write(req, id);
      }
      const decorated = await this.#signer.decorate(replica.state, req, r);
      if (!decorated) throw new NotPrimary();
      return replyTo(id, await this.#identities.decorate(replica.state, req, decorated));
    } catch (err) {
      if (err instanceof NotPrimary) return this.#notPrimary(id);
      if (err instanceof BadPassword || err instanceof BadPubkey) {
        return replyTo(id, { ok: false, error: err.message });
      }
      throw err;
    }
  }

  #notPrimary(id: string): Message {
    if (this.#ctx.role() === "secondary") {
      return {
        t: "res",
        id,
        ok: false,
        code: "not_primary",
        error: "this tracker is the secondary",
        primary: formatEndpoint(this.#ctx.other),
      };
    }
    return { t: "res", id, ok: false, code: "unavailable", error: "this tracker is not ready" };
  }

  async #write(req: Request, reqId: string): Promise<Result> {
    const replica = this.#ctx.replica;
    const seen = replica.state.dedup(reqId);
    if (seen) {
      await replica.commit(replica.state.index);
      return seen;
    }
    const env = await prepareEnv(replica.state, req);
    if (this.#ctx.role() !== "primary") throw new NotPrimary();
    const again = replica.state.dedup(reqId);
    if (again) {
      await replica.commit(replica.state.index);
      return again;
    }
    const p = propose(replica.state, req, env);
    if ("result" in p) return p.result;
    const { entry, result } = replica.append(p.op, reqId);
    await replica.commit(entry.index);
    return result;
  }
}
