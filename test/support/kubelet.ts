// The kubelet's expansion of a container's command and args, written from
// Kubernetes' documented behaviour (third_party/forked/golang/expansion in
// kubernetes/kubernetes): `$(NAME)` becomes the variable's value when the
// container defines it and stays as written when not; `$$` becomes `$`; a `$`
// before anything else stays. An image's own ENTRYPOINT and CMD are never
// expanded: only what the pod spec says.

export function expandKubelet(input: string, env: Readonly<Record<string, string>> = {}): string {
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== "$" || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === "$") out += "$";
    else if (rest[0] === "(") {
      const close = rest.indexOf(")");
      if (close > 0) {
        const name = rest.slice(1, close);
        out += Object.hasOwn(env, name) ? env[name] : `$(${name})`;
        advance = close + 1;
      } else out += "$(";
    } else out += `$${rest[0]}`;
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}
