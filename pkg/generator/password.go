package generator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"

	"golang.org/x/crypto/argon2"
)

// Argon2 parameters of jupyter_server.auth.passwd(), so hashes look like the ones Jupyter makes.
const (
	argonMemoryKiB = 10240
	argonTime      = 10
	argonThreads   = 8
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// passwordHashPattern is the CRD's pattern for spec.auth.passwordHash (see the kubebuilder marker on
// AuthSpec.PasswordHash); a test keeps the two equal.
var passwordHashPattern = regexp.MustCompile(`^argon2:\$argon2(id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)

// HashPassword returns password as a Jupyter Server argon2id hash,
// argon2:$argon2id$v=19$m=10240,t=10,p=8$<salt>$<hash>, which jupyter_server's passwd_check accepts.
func HashPassword(password []byte) (string, error) {
	if len(password) == 0 {
		return "", fmt.Errorf("the password is empty")
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("make a salt: %w", err)
	}
	key := argon2.IDKey(password, salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("argon2:$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}
