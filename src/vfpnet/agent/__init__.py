"""The policy agent: datastore sync -> per-endpoint rules -> a dataplane driver."""
