package kindcluster

import (
	"fmt"

	"github.com/go-logr/logr"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// kindLogger hands kind's log lines to a logr.Logger: kind's V(0) status lines at logr V(0).
type kindLogger struct{ l logr.Logger }

func (k kindLogger) Warn(m string)                        { k.l.Info(m, "level", "warning") }
func (k kindLogger) Warnf(f string, a ...any)             { k.Warn(fmt.Sprintf(f, a...)) }
func (k kindLogger) Error(m string)                       { k.l.Error(nil, m) }
func (k kindLogger) Errorf(f string, a ...any)            { k.Error(fmt.Sprintf(f, a...)) }
func (k kindLogger) V(v kindlog.Level) kindlog.InfoLogger { return kindInfo{k.l.V(int(v))} }

type kindInfo struct{ l logr.Logger }

func (k kindInfo) Info(m string)            { k.l.Info(m) }
func (k kindInfo) Infof(f string, a ...any) { k.l.Info(fmt.Sprintf(f, a...)) }
func (k kindInfo) Enabled() bool            { return k.l.Enabled() }
