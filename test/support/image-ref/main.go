// The distribution project's own image reference parser (Debian's
// golang-github-docker-distribution-dev), as a test oracle for
// src/registry/reference.ts: a JSON array of references in on stdin, for each
// what ParseNormalizedNamed makes of it (domain, path, tag, digest) or its error.
// Debian's is distribution 2.8: it predates the newer reference package's IPv6
// hosts ("[::1]:5000/x") and its rule that an upper-case first component is a
// domain; the tests allow those two differences and no other.
package main

import (
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"os"

	"github.com/docker/distribution/reference"
)

type read struct {
	Domain string `json:"domain,omitempty"`
	Path   string `json:"path,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
	Error  string `json:"error,omitempty"`
}

func main() {
	var refs []string
	if err := json.NewDecoder(os.Stdin).Decode(&refs); err != nil {
		panic(err)
	}
	out := make([]read, len(refs))
	for i, ref := range refs {
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			out[i] = read{Error: err.Error()}
			continue
		}
		r := read{Domain: reference.Domain(named), Path: reference.Path(named)}
		if tagged, ok := named.(reference.Tagged); ok {
			r.Tag = tagged.Tag()
		}
		if digested, ok := named.(reference.Digested); ok {
			r.Digest = digested.Digest().String()
		}
		out[i] = r
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
