// The Bun executable's floor, compiled by npm run bench with iqqq's own build
// flags: run the program (Bun.spawn, stdio inherited), then one POST over a new
// connection (Bun.connect) when ISTIO_PORT is set, then exit with the program's
// status. No configuration, no signals, no rules: what any Bun-compiled
// wrapper pays on this machine, which iqqq's figures are set against.

declare const Bun: {
  spawn(options: {
    cmd: string[];
    stdio: ["inherit", "inherit", "inherit"];
    onExit(proc: unknown, exitCode: number | null): void;
  }): unknown;
  connect(options: {
    hostname: string;
    port: number;
    socket: {
      open(s: { write(data: string): void }): void;
      data(s: { terminate(): void }): void;
      error(): void;
      connectError(): void;
    };
  }): Promise<unknown>;
};

const port = Number(process.env.ISTIO_PORT ?? "0");
Bun.spawn({
  cmd: process.argv.slice(2),
  stdio: ["inherit", "inherit", "inherit"],
  onExit(_proc, exitCode) {
    const status = exitCode ?? 1;
    if (process.env.KUBERNETES_SERVICE_HOST === undefined) process.exit(status);
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (s) => s.write("POST /quitquitquit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"),
        data: (s) => {
          s.terminate();
          process.exit(status);
        },
        error: () => process.exit(status),
        connectError: () => process.exit(status),
      },
    }).catch(() => process.exit(status));
  },
});
