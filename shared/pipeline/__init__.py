"""The product's work, free of Functions types: submit on drop, poll outstanding jobs, record outcomes."""
