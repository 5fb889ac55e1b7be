// What Kubernetes reads from YAML, for the tests: sigs.k8s.io/yaml (the
// decoder of the API server and kubectl, over go-yaml v2), from Debian's
// golang-k8s-sigs-yaml-dev. Reads a JSON array of YAML documents on stdin and
// writes, for each, the JSON Kubernetes makes of it, or its error; "strict"
// is what strict decoding (duplicate keys) says on top.
package main

import (
	"encoding/json"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

type result struct {
	JSON   json.RawMessage `json:"json,omitempty"`
	Error  string          `json:"error,omitempty"`
	Strict string          `json:"strict,omitempty"`
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		panic(err)
	}
	var docs []string
	if err := json.Unmarshal(in, &docs); err != nil {
		panic(err)
	}
	out := make([]result, len(docs))
	for i, d := range docs {
		j, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			out[i].Error = err.Error()
			continue
		}
		out[i].JSON = j
		if _, err := yaml.YAMLToJSONStrict([]byte(d)); err != nil {
			out[i].Strict = err.Error()
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
