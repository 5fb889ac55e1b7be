// What Kubernetes reads from YAML, for the tests: sigs.k8s.io/yaml (the
// decoder of the API server and kubectl, over go-yaml v2), from Debian's
// golang-k8s-sigs-yaml-dev. Reads a JSON array of YAML documents on stdin and
// writes, for each, the JSON Kubernetes makes of it, or its error; "strict"
// is what strict decoding (duplicate keys) says on top. A document whose first
// character but white space is "{" is also read as kubectl reads such a stream
// (k8s.io/apimachinery's YAMLOrJSONDecoder: encoding/json, its first object),
// in "asJson"; Debian has no apimachinery, so its test (hasPrefix with
// unicode.IsSpace) is restated here.
package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"unicode"

	"sigs.k8s.io/yaml"
)

type jsonRead struct {
	JSON  json.RawMessage `json:"json,omitempty"`
	Error string          `json:"error,omitempty"`
}

type result struct {
	JSON   json.RawMessage `json:"json,omitempty"`
	Error  string          `json:"error,omitempty"`
	Strict string          `json:"strict,omitempty"`
	AsJSON *jsonRead       `json:"asJson,omitempty"`
}

func readJSON(d []byte) *jsonRead {
	if !bytes.HasPrefix(bytes.TrimLeftFunc(d, unicode.IsSpace), []byte("{")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(d))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return &jsonRead{Error: err.Error()}
	}
	j, err := json.Marshal(v)
	if err != nil {
		return &jsonRead{Error: err.Error()}
	}
	return &jsonRead{JSON: j}
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
		out[i].AsJSON = readJSON([]byte(d))
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
