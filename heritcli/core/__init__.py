"""Pure numerics for herit: numpy and scipy only (no click, rich, h5py, printing or file IO)."""
