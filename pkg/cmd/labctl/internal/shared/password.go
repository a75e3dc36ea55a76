package shared

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// passwordTries is how many times a person at a terminal may type two different passwords.
const passwordTries = 3

// readPassword reads the login password of lab for --password-stdin. On a terminal it asks for it
// twice, not showing what is typed, and prompts on the terminal itself, not stdout; from a pipe or a
// file it reads the first line, as `docker login --password-stdin` does.
func readPassword(in io.Reader, lab string) ([]byte, error) {
	if tty := Terminal(in); tty != nil {
		return askPassword(tty, lab)
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read the password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, fmt.Errorf("--password-stdin: stdin holds no password, e.g. `printf '%%s' \"$PASSWORD\" | labctl create ...`")
	}
	return []byte(line), nil
}

// askPassword prompts on tty for the password of lab and its confirmation, with echo off.
func askPassword(tty *os.File, lab string) ([]byte, error) {
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(tty, prompt)
		password, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty) // the Enter typed was not echoed either
		if err != nil {
			return nil, fmt.Errorf("read the password from the terminal: %w", err)
		}
		return password, nil
	}
	for try := 1; ; try++ {
		password, err := ask(fmt.Sprintf("Password for lab %s: ", lab))
		if err != nil {
			return nil, err
		}
		if len(password) == 0 {
			return nil, fmt.Errorf("--password-stdin: no password typed for lab %s (what you type is not shown; type it, then Enter)", lab)
		}
		again, err := ask("Again, to confirm: ")
		if err != nil {
			return nil, err
		}
		if bytes.Equal(password, again) {
			return password, nil
		}
		if try == passwordTries {
			return nil, fmt.Errorf("--password-stdin: the two passwords typed for lab %s differed %d times", lab, passwordTries)
		}
		fmt.Fprintln(tty, "The two passwords differ; type them again.")
	}
}
