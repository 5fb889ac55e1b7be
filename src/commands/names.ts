// iqqq's commands, as its first argument (main.ts loads each on demand). A
// program of one of these names is wrapped as `iqqq -- NAME …`: iqqq inject
// writes the `--` itself (inject/inject.ts).

export const COMMAND_NAMES = ["install", "inject", "webhook", "reaper"] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];
