package nodetest

import (
	"context"
	"log/slog"

	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/scalegen"
)

// PrepareScale copies the scale fixture of n transfers (storage/scalegen)
// to the data directory dst with what a node keeps besides the
// transfers: the dashboard's statistics for the default handover guard,
// as the node would have written them with each transfer. They are
// computed once per fixture and definition, and cached beside it.
func PrepareScale(ctx context.Context, n int, dst string, log *slog.Logger) (scalegen.Manifest, error) {
	guard := config.Config{}.WithDefaults().HandoverGuardDays
	key := dashboard.StatsKey(guard)
	return scalegen.PrepareDerived(ctx, n, dst, log, scalegen.Derived{Key: "node statistics " + key, Run: func(ctx context.Context, dir string) error {
		db, err := storage.Open(dir, storage.Options{Logger: log})
		if err != nil {
			return err
		}
		err = db.EnsureTransferStats(ctx, key, dashboard.Stats(guard))
		if err == nil {
			// Compacted, as the fixture itself is.
			err = db.Badger().Flatten(2)
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		return err
	}})
}
