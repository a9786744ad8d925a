enum CLVPlaceholder {}
