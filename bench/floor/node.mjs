// The Node bundle's floor: run the program (node:child_process, stdio
// inherited), then one POST over a new connection (node:net) when
// KUBERNETES_SERVICE_HOST is set, then exit with the program's status. No
// configuration, no signals, no rules: what any Node wrapper pays on this
// machine, which iqqq's figures are set against.
import { spawn } from "node:child_process";
import { connect } from "node:net";

const [file, ...args] = process.argv.slice(2);
spawn(file, args, { stdio: "inherit" }).on("exit", (code) => {
  const status = code ?? 1;
  if (process.env.KUBERNETES_SERVICE_HOST === undefined) process.exit(status);
  const socket = connect(Number(process.env.ISTIO_PORT), "127.0.0.1", () =>
    socket.write("POST /quitquitquit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"),
  );
  socket.on("data", () => process.exit(status));
  socket.on("error", () => process.exit(status));
});
