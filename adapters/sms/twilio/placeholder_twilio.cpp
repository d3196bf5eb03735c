// placeholder until the twilio gateway lands
