// Package match decides whether an expected partial object is contained in an actual one, and says where not.
package match
