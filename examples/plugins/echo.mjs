// wrapper4's echo plugin, as an iqqq plugin. The Go original:
//
//   func GetPlugin() interface{} { return &echoPlugin{} }
//   func (p echoPlugin) Run() { log.Println("Echo demo plugin") }
//
// iqqq accepts the same shape: a GetPlugin (or getPlugin) factory whose object
// has run(), called once the program has ended. Go's log.Println writes a
// timestamped line to stderr; so does this.
//
//   IQQQ_PLUGINS=/plugins/echo.mjs iqqq ls -l
//   WRAPPER_PLUGIN_PATH=/plugins/echo.mjs iqqq ls -l

/** @returns {import("iqqq/plugin").IqqqPlugin} */
export function GetPlugin() {
  return {
    name: "echo",
    run() {
      process.stderr.write(`${goLogTime(new Date())} Echo demo plugin\n`);
    },
  };
}

/** Go's log.LstdFlags format: 2009/11/10 23:00:00, local time. @param {Date} d */
function goLogTime(d) {
  const two = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}/${two(d.getMonth() + 1)}/${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
