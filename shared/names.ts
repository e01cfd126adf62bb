/** Validation of user ids, group ids and shared file names, used by peers and trackers alike. */

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Returns an error message if `id` is not a valid user or group id, else null. */
export function checkId(kind: "user" | "group", id: string): string | null {
  if (ID_RE.test(id)) return null;
  return `invalid ${kind} id "${clip(id)}": use 1-64 of A-Z a-z 0-9 _ . -`;
}

/**
 * Returns an error message if `name` cannot be a shared file's name, else null.
 * A name is one path component: no `/`, `\`, NUL or control characters, not
 * `.` or `..`, and at most 255 bytes of UTF-8.
 */
export function checkFileName(name: string): string | null {
  // deno-lint-ignore no-control-regex
  if (name === "" || /[\/\\\u0000-\u001f\u007f]/.test(name) || name === "." || name === "..") {
    return `invalid file name "${clip(name)}": it must be one path component`;
  }
  if (new TextEncoder().encode(name).length > 255) {
    return "invalid file name: longer than 255 bytes";
  }
  return null;
}

/** A remote-supplied string made safe to quote in a one-line message: no control characters, at most 40 characters. */
export function clip(s: string): string {
  // deno-lint-ignore no-control-regex
  const safe = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, "?");
  return safe.length > 40 ? `${safe.slice(0, 40)}…` : safe;
}
