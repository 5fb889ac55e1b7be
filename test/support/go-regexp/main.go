// Go's own regexp package (the standard library: RE2's syntax, as Go users
// write it), as a test oracle for src/watch/pattern.ts: a JSON array of
// {pattern, texts} in on stdin, for each whether it compiles and, if so,
// whether it matches each text (MatchString: anywhere in the text).
package main

import (
	"encoding/json"
	"os"
	"regexp"
)

type question struct {
	Pattern string   `json:"pattern"`
	Texts   []string `json:"texts"`
}

type answer struct {
	Error   string `json:"error,omitempty"`
	Matches []bool `json:"matches,omitempty"`
}

func main() {
	var questions []question
	if err := json.NewDecoder(os.Stdin).Decode(&questions); err != nil {
		panic(err)
	}
	out := make([]answer, len(questions))
	for i, q := range questions {
		re, err := regexp.Compile(q.Pattern)
		if err != nil {
			out[i] = answer{Error: err.Error()}
			continue
		}
		matches := make([]bool, len(q.Texts))
		for j, text := range q.Texts {
			matches[j] = re.MatchString(text)
		}
		out[i] = answer{Matches: matches}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
