"""Monthly settlement: closing a period into payment orders, paying them (service,
endpoints), and the remittance advice of each priced document."""
