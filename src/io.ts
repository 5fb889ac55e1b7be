// What iqqq and its commands are given by the process that runs them: the
// environment and the two output streams. Tests pass their own.

export type Env = Readonly<Record<string, string | undefined>>;

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The name iqqq was started under (argv[1]'s basename): "scuttle" selects scuttle's rules. */
  readonly invokedAs: string;
}
