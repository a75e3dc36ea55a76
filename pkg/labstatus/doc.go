// Package labstatus is what a person wants to know about a lab after asking for it: what the Git branch
// holds, what Argo CD made of it, and how it runs, joined into one view (Get, List), and the wait from a
// pushed request to a lab that answers (Wait).
package labstatus
