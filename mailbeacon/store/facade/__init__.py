"""The Store's methods, a module per area; `mailbeacon.store.Store` combines them."""
