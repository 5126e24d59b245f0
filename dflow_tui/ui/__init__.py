"""The full-screen face (Textual). Only this package imports textual; it calls the service layer."""
