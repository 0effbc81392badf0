package storage

import (
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// readCache spares a Batch the store reads it already made: a key read
// and found absent (a record's log position before HasRecord and then
// appendLog look at it, the next position after the log head moved, a
// new transfer before Transfer and then putTransfer look for it), and a
// transfer read and decoded (Transfer, then putTransfer replacing it).
// A read that misses walks every memtable and level of the store, and so
// costs far more than a map lookup.
//
// It only answers for keys written through it (wrote) or by nothing in
// the transaction: appendLog and putTransfer, the only writers of log
// and transfer keys in applyIn, call wrote before each such write. A nil
// *readCache reads the transaction every time.
type readCache struct {
	absent    map[string]struct{}       // keys found absent and not written since
	transfers map[string]TransferRecord // transfers read, not written since, by ID
}

func newReadCache() *readCache {
	return &readCache{absent: map[string]struct{}{}, transfers: map[string]TransferRecord{}}
}

// get is txn.Get(k), answered with badger.ErrKeyNotFound without a read
// when k was found absent before and not written since.
func (c *readCache) get(txn *badger.Txn, k []byte) (*badger.Item, error) {
	if c == nil {
		return txn.Get(k)
	}
	if _, ok := c.absent[string(k)]; ok {
		return nil, badger.ErrKeyNotFound
	}
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		c.absent[string(k)] = struct{}{}
	}
	return item, err
}

// wrote forgets what the cache knows of k, which the transaction is about
// to write or delete.
func (c *readCache) wrote(k []byte) {
	if c == nil {
		return
	}
	delete(c.absent, string(k))
}

// transfer returns the transfer at x/<id> as loadTransfer does, from the
// cache when it was read before and not written since.
func (c *readCache) transfer(txn *badger.Txn, id string) (TransferRecord, bool, error) {
	if c == nil {
		return loadTransfer(txn, id)
	}
	if r, ok := c.transfers[id]; ok {
		return r, true, nil
	}
	k := transferKey(id)
	if _, ok := c.absent[string(k)]; ok {
		return TransferRecord{}, false, nil
	}
	r, found, err := loadTransfer(txn, id)
	switch {
	case err != nil:
	case found:
		c.transfers[id] = r
	default:
		c.absent[string(k)] = struct{}{}
	}
	return r, found, err
}

// wroteTransfer forgets what the cache knows of transfer id, which the
// transaction is about to write.
func (c *readCache) wroteTransfer(id string) {
	if c == nil {
		return
	}
	delete(c.transfers, id)
	delete(c.absent, string(transferKey(id)))
}
