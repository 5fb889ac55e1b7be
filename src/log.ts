// iqqq's own messages: stderr only, one line each, prefixed "iqqq:".
// stdout belongs to the wrapped program.

export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  readonly level: LogLevel;
}

export function createLogger(level: LogLevel, write: (line: string) => void): Logger {
  const rank = LOG_LEVELS.indexOf(level);
  const at =
    (min: LogLevel, tag: string) =>
    (message: string): void => {
      if (rank >= LOG_LEVELS.indexOf(min)) write(`iqqq: ${tag}${message}\n`);
    };
  return {
    level,
    error: at("error", "error: "),
    warn: at("warn", "warning: "),
    info: at("info", ""),
    debug: at("debug", ""),
  };
}
